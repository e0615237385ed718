//! The master key of sealed personal fields on each platform: KMS on AWS, a local master key
//! named by the template's key resource in the local cloud, used with exactly the grants the
//! function declares (so a function that did not declare `kms:Decrypt` for a field cannot open
//! it here either, as its role could not on AWS).

use field_crypto::{FieldCipher, KeyService, LocalKeys, LocalMasterKey};
use ports::Faulty;

use crate::config::ConfigError;
use crate::function::Setting;
use crate::local::{LocalPlatform, LocalTable};
use crate::platform::Platform;

/// A platform that gives the field cipher port.
pub trait FieldKeysPort: Platform {
    /// The master key adapter.
    type Keys: KeyService + 'static;

    /// The cipher over the key `setting` names, with the actions and fields it declares.
    fn field_cipher(&self, setting: &Setting) -> Result<FieldCipher<Self::Keys>, ConfigError>;
}

impl LocalTable for LocalMasterKey {}

impl FieldKeysPort for LocalPlatform {
    type Keys = Faulty<LocalKeys>;

    fn field_cipher(&self, setting: &Setting) -> Result<FieldCipher<Self::Keys>, ConfigError> {
        let key_id = self.setting(setting)?;
        let master = self.table(&key_id, || LocalMasterKey::new(&key_id))?;
        let principal = self
            .env()
            .optional("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or_else(|| "a local function".to_owned());
        let keys = LocalKeys::new(master, &principal, setting.actions, setting.fields);
        Ok(FieldCipher::new(self.faulty(keys)))
    }
}

#[cfg(feature = "aws")]
impl FieldKeysPort for crate::lambda::AwsPlatform {
    type Keys = field_crypto::KmsKeys;

    fn field_cipher(&self, setting: &Setting) -> Result<FieldCipher<Self::Keys>, ConfigError> {
        let key_id = self.setting(setting)?;
        let client = aws_sdk_kms::Client::new(self.sdk_config());
        Ok(FieldCipher::new(field_crypto::KmsKeys::new(client, key_id)))
    }
}
