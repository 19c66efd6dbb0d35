//! Flow A picks a multilingual bot's language from the page: the locale the page starts its
//! conversation with, else the locale on its activities, else the `language` of its contact
//! event (which replaces a locale).

use serde_json::json;

use super::flow_a::{serving, start_with, Setup};

fn multilingual() -> Setup {
    serving("bots/multilingual.bot")
}

const GREETING_ES: &str = "¡Hola Ana! Puedo seguir tu pedido o buscarte una persona.";
const GREETING_EN: &str = "Hi Ana! I can track your order or find you a person.";

#[tokio::test]
async fn the_locale_a_page_starts_with_picks_the_language_of_the_greeting() {
    let world = start_with(&multilingual()).await;
    let page = world.open_page_in("Ana", Some("es-MX")).await;
    page.wait_for(GREETING_ES).await;
    page.send(json!({"type": "message", "from": {"id": "dl_customer1"}, "text": "bla"})).await;
    page.wait_for("Perdón, no te he entendido.").await;
}

#[tokio::test]
async fn a_page_without_a_start_locale_is_answered_in_its_activities_locale() {
    let world = start_with(&multilingual()).await;
    let page = world.open_page_in("Ana", None).await;
    page.wait_for(GREETING_EN).await;
    let message = json!({"type": "message", "from": {"id": "dl_customer1"}, "text": "bla",
        "locale": "es-ES"});
    page.send(message).await;
    page.wait_for("Perdón, no te he entendido.").await;
}

#[tokio::test]
async fn the_contact_events_language_replaces_the_pages_locale() {
    let world = start_with(&multilingual()).await;
    let page = world.open_page_in("Ana", Some("es")).await;
    page.wait_for(GREETING_ES).await;
    let contact = json!({"type": "event", "name": "botrun.contact", "from": {"id": "dl_customer1"},
        "value": {"name": "Ana", "language": "en"}});
    page.send(contact).await;
    let message = json!({"type": "message", "from": {"id": "dl_customer1"}, "text": "bla",
        "locale": "es"});
    page.send(message).await;
    page.wait_for("Sorry, I didn't catch that.").await;
}
