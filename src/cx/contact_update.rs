//! Completing a contact CX already has (`paths.contact_update`): the customer's details can
//! arrive after the first message created the contact without them. Chatwoot's call
//! (`Api::V1::Accounts::ContactsController#update`, `PUT contacts/{id}`) changes only the fields
//! the body names \[C\]; Sangoma publishes no such call \[G\].

use reqwest::Method;

use super::client::CxClient;
use super::{ContactId, CxError, NewContact};

impl CxClient {
    /// `PUT paths.contact_update` for `contact_id` with the details `contact` has (the others
    /// stay as CX has them).
    pub async fn update_contact(
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
