//! Completing a contact CX already has (`paths.contact_update`): the customer's details can
//! arrive after the first message created the contact without them. Chatwoot's call
//! (`Api::V1::Accounts::ContactsController#update`, `PUT contacts/{id}`) changes only the fields
//! the body names \[C\]; Sangoma publishes no such call \[G\]. Finding a contact CX already has
//! (`paths.contact_search`): Chatwoot keeps a contact's email (case-insensitive) and phone number
//! unique in an account (`app/models/contact.rb`) and refuses a second one with 422 "… has already
//! been taken" (`RequestExceptionHandler#render_record_invalid`) \[C\].

use reqwest::Method;
use serde_json::Value;

use super::client::{decode_error, parse_json, CxClient};
use super::wire::{read_contact, unwrap_payload};
use super::{ContactId, CreatedContact, CxError, NewContact};

impl CxClient {
    /// `PUT paths.contact_update` for `contact_id` with the details `contact` has (the others
    /// stay as CX has them).
    pub(crate) async fn update_contact(
        &self,
        contact_id: ContactId,
        contact: &NewContact,
    ) -> Result<(), CxError> {
        const CALL: &str = "update_contact";
        let config = &self.inner.config;
        let path = config.paths.contact_update.replace("{contact_id}", &contact_id.0.to_string());
        let request = self.body(&config.extra_body.contact_update, |body| {
            for (key, value) in [
                ("name", &contact.name),
                ("email", &contact.email),
                ("phone_number", &contact.phone),
            ] {
                if let Some(value) = value {
                    body.insert(key.into(), value.clone().into());
                }
            }
        });
        self.api_call(CALL, Method::PUT, &path, Some(request)).await.map(drop)
    }
}

impl CxClient {
    /// The contact CX already has with `contact`'s email (compared without case) or, failing
    /// that, its phone number: `GET paths.contact_search?q=…`, which matches parts of names,
    /// emails and phones, so only an exact match counts. `None` when there is none.
    pub(crate) async fn find_contact(
        &self,
        contact: &NewContact,
    ) -> Result<Option<CreatedContact>, CxError> {
        const CALL: &str = "find_contact";
        let config = &self.inner.config;
        let wanted =
            [("email", contact.email.as_deref()), ("phone_number", contact.phone.as_deref())];
        for (field, value) in wanted {
            let Some(value) = value.filter(|v| !v.trim().is_empty()) else { continue };
            let mut path = config.paths.contact_search.clone();
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(&format!(
                "q={}&tenant_domain={}",
                url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>(),
                config.tenant_domain
            ));
            let body = self.api_call(CALL, Method::GET, &path, None).await?;
            let found = parse_json(CALL, &body)?;
            let Value::Array(contacts) = unwrap_payload(&found) else {
                return Err(decode_error(CALL, "no `payload` list of contacts".into(), &body));
            };
            let same = |c: &&Value| {
                c.get(field).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(value))
            };
            if let Some(contact) = contacts.iter().find(same) {
                return read_contact(contact).map(Some).map_err(|r| decode_error(CALL, r, &body));
            }
        }
        Ok(None)
    }
}

impl CxError {
    /// CX refused a contact because its email or phone number belongs to another contact.
    pub(crate) fn is_contact_taken(&self) -> bool {
        matches!(self, Self::Http { status: 422, body_excerpt, .. }
            if body_excerpt.contains("has already been taken"))
    }
}
