//! Validation of an order as a customer submits it: every problem named by its field path,
//! so an API can answer with all of them at once.

use field_crypto::{CryptoError, FieldCipher, KeyService};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::events::{Contact, Customer, OrderLine, OrderPlaced, ShippingAddress, personal};

/// The most lines an order may have: reserving them is one DynamoDB transaction of at most
/// 100 items (one per line, plus the reservation).
pub const MAX_LINES: usize = 50;
/// The most of one sku an order may ask for.
pub const MAX_QUANTITY: u64 = 1_000;
/// The highest unit price, in minor units (one million in major units).
pub const MAX_UNIT_PRICE: u64 = 100_000_000;

/// Active ISO 4217 currency codes.
const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN \
BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD \
HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA \
MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF \
SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES \
VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path of the field in the request, e.g. `lines[1].quantity`.
    pub field: String,
    /// What is wrong, for the person who sent it.
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Whether `code` is an active ISO 4217 currency code.
pub fn is_iso_currency(code: &str) -> bool {
    code.len() == 3 && ISO_4217.split_whitespace().any(|c| c == code)
}

/// The longest name, email, and address part accepted.
pub const MAX_NAME: usize = 200;
/// RFC 5321's limit on a forward path.
pub const MAX_EMAIL: usize = 254;

/// An order that passed validation, its personal fields still in clear: [`ValidOrder::seal`]
/// makes the event, so nothing personal is published in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidOrder {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// The customer's name.
    pub customer_name: String,
    /// The customer's email.
    pub customer_email: String,
    /// Where the order goes.
    pub shipping_address: ShippingAddress,
    /// ISO 4217 code.
    pub currency: String,
    /// What was ordered.
    pub lines: Vec<OrderLine>,
    /// Sum of the lines, in minor units.
    pub total: u64,
    /// The payment method's token.
    pub payment_token: Option<String>,
}

/// Prints no personal field.
impl std::fmt::Debug for ValidOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidOrder")
            .field("order_id", &self.order_id)
            .field("customer_id", &self.customer_id)
            .field("lines", &self.lines)
            .finish_non_exhaustive()
    }
}

impl ValidOrder {
    /// The event that places the order, each personal field sealed for itself and for this
    /// order (the subject of its events), so it opens in this order's events alone.
    pub async fn seal<K: KeyService>(self, cipher: &FieldCipher<K>) -> Result<OrderPlaced, CryptoError> {
        let order = self.order_id.as_str();
        let contact = Contact {
            name: cipher
                .seal_text(personal::CUSTOMER_NAME, order, &self.customer_name)
                .await?,
            email: cipher
                .seal_text(personal::CUSTOMER_EMAIL, order, &self.customer_email)
                .await?,
        };
        let shipping_address = cipher
            .seal_json(personal::SHIPPING_ADDRESS, order, &self.shipping_address)
            .await?;
        let payment_token = match &self.payment_token {
            Some(token) => Some(cipher.seal_text(personal::PAYMENT_TOKEN, order, token).await?.into()),
            None => None,
        };
        Ok(OrderPlaced {
            order_id: self.order_id,
            customer: Customer {
                id: self.customer_id,
                contact: Some(contact),
            },
            currency: self.currency,
            lines: self.lines,
            total: self.total,
            shipping_address: Some(shipping_address),
            payment_token,
        })
    }
}

const FIELDS: [&str; 8] = [
    "customerId",
    "customerName",
    "customerEmail",
    "shippingAddress",
    "currency",
    "lines",
    "total",
    "paymentToken",
];

/// Checks an order request (`{customerId, customerName, customerEmail, shippingAddress:
/// {line1, line2?, city, postalCode, country}, currency, lines: [{sku, quantity, unitPrice}],
/// total, paymentToken?}`) for order `order_id`, or names every invalid field. Messages never
/// repeat a personal value.
pub fn validate_order(order_id: &str, request: &Value) -> Result<ValidOrder, Vec<FieldError>> {
    let Some(body) = request.as_object() else {
        return Err(vec![FieldError::new("", "the body must be a JSON object")]);
    };
    let mut errors = Vec::new();
    for key in body.keys() {
        if !FIELDS.contains(&key.as_str()) {
            errors.push(FieldError::new(bounded_name(key), "unknown field"));
        }
    }
    let customer_id = identifier(body, "customerId", 64, &mut errors);
    let customer_name = bounded_text(body.get("customerName"), "customerName", MAX_NAME, &mut errors);
    let customer_email =
        bounded_text(body.get("customerEmail"), "customerEmail", MAX_EMAIL, &mut errors).filter(|email| {
            let valid = is_email(email);
            if !valid {
                errors.push(FieldError::new(
                    "customerEmail",
                    "must be an address like name@example.com: one '@', a domain with a dot, no spaces",
                ));
            }
            valid
        });
    let shipping_address = address(body.get("shippingAddress"), &mut errors);
    let currency = text(body, "currency", &mut errors).filter(|c| {
        let known = is_iso_currency(c);
        if !known {
            errors.push(FieldError::new(
                "currency",
                // Quoted only when short: an error never echoes a whole body back.
                if c.len() <= 8 {
                    format!("'{c}' is not an ISO 4217 currency code")
                } else {
                    format!("a {}-byte text is not an ISO 4217 currency code", c.len())
                },
            ));
        }
        known
    });
    let payment_token = match body.get("paymentToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if !t.is_empty() && t.len() <= 128 => Some(t.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                "paymentToken",
                "must be a string of 1 to 128 characters",
            ));
            None
        }
    };
    let lines = order_lines(body, &mut errors);
    let total = whole_number(body.get("total"), "total", u64::MAX, &mut errors);
    if let (Some(lines), Some(total)) = (&lines, total) {
        let sum = lines.iter().try_fold(0u64, |sum, l| {
            u64::from(l.quantity)
                .checked_mul(l.unit_price)
                .and_then(|x| sum.checked_add(x))
        });
        if sum != Some(total) {
            let expected = sum.map_or("too large".to_owned(), |s| s.to_string());
            errors.push(FieldError::new(
                "total",
                format!("is {total} but the lines add up to {expected}"),
            ));
        }
    }
    match (
        customer_id,
        customer_name,
        customer_email,
        shipping_address,
        currency,
        lines,
        total,
    ) {
        (
            Some(customer_id),
            Some(customer_name),
            Some(customer_email),
            Some(shipping_address),
            Some(currency),
            Some(lines),
            Some(total),
        ) if errors.is_empty() => Ok(ValidOrder {
            order_id: order_id.to_owned(),
            customer_id,
            customer_name,
            customer_email,
            shipping_address,
            currency,
            lines,
            total,
            payment_token,
        }),
        _ => Err(errors),
    }
}

/// A field name as an error may quote it: its first 64 characters at most.
fn bounded_name(key: &str) -> String {
    match key.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &key[..end]),
        None => key.to_owned(),
    }
}

/// A string of 1 to `max` characters, none of them a control character.
fn bounded_text(value: Option<&Value>, field: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    match value {
        Some(Value::String(s))
            if !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control) =>
        {
            Some(s.clone())
        }
        _ => {
            errors.push(FieldError::new(
                field,
                format!("required: a string of 1 to {max} characters, no control characters"),
            ));
            None
        }
    }
}

fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

fn address(value: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<ShippingAddress> {
    let Some(Value::Object(address)) = value else {
        errors.push(FieldError::new(
            "shippingAddress",
            "required: {line1, line2?, city, postalCode, country}",
        ));
        return None;
    };
    let before = errors.len();
    for key in address.keys() {
        if !["line1", "line2", "city", "postalCode", "country"].contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("shippingAddress.{}", bounded_name(key)),
                "unknown field",
            ));
        }
    }
    let part = |name: &str, max: usize, errors: &mut Vec<FieldError>| {
        bounded_text(address.get(name), &format!("shippingAddress.{name}"), max, errors)
    };
    let line1 = part("line1", MAX_NAME, errors);
    let line2 = match address.get("line2") {
        None | Some(Value::Null) => None,
        Some(_) => part("line2", MAX_NAME, errors),
    };
    let city = part("city", 100, errors);
    let postal_code = part("postalCode", 20, errors);
    let country = match address.get("country") {
        Some(Value::String(c)) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) => Some(c.clone()),
        _ => {
            errors.push(FieldError::new(
                "shippingAddress.country",
                "required: an ISO 3166-1 alpha-2 code such as NL",
            ));
            None
        }
    };
    if errors.len() != before {
        return None;
    }
    Some(ShippingAddress {
        line1: line1?,
        line2,
        city: city?,
        postal_code: postal_code?,
        country: country?,
    })
}

fn order_lines(body: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Vec<OrderLine>> {
    let Some(Value::Array(items)) = body.get("lines") else {
        errors.push(FieldError::new(
            "lines",
            "required: a list of {sku, quantity, unitPrice}",
        ));
        return None;
    };
    if items.is_empty() || items.len() > MAX_LINES {
        errors.push(FieldError::new(
            "lines",
            format!("must have 1 to {MAX_LINES} lines, has {}", items.len()),
        ));
        return None;
    }
    let before = errors.len();
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = |field: &str| format!("lines[{i}].{field}");
        let Some(line) = item.as_object() else {
            errors.push(FieldError::new(format!("lines[{i}]"), "must be an object"));
            continue;
        };
        let sku = match line.get("sku") {
            Some(Value::String(s)) if is_sku(s) => Some(s.clone()),
            _ => {
                errors.push(FieldError::new(
                    at("sku"),
                    "required: 1 to 64 of A-Z, 0-9 and '-', starting with a letter or digit",
                ));
                None
            }
        };
        if let Some(s) = &sku
            && lines.iter().any(|l: &OrderLine| &l.sku == s)
        {
            errors.push(FieldError::new(
                at("sku"),
                format!("'{s}' appears on more than one line; put its whole quantity on one"),
            ));
        }
        let quantity = whole_number(line.get("quantity"), &at("quantity"), MAX_QUANTITY, errors).filter(|q| {
            let positive = *q > 0;
            if !positive {
                errors.push(FieldError::new(at("quantity"), "must be at least 1"));
            }
            positive
        });
        let unit_price = whole_number(line.get("unitPrice"), &at("unitPrice"), MAX_UNIT_PRICE, errors);
        for key in line
            .keys()
            .filter(|k| !["sku", "quantity", "unitPrice"].contains(&k.as_str()))
        {
            errors.push(FieldError::new(at(&bounded_name(key)), "unknown field"));
        }
        if let (Some(sku), Some(quantity), Some(unit_price)) = (sku, quantity, unit_price) {
            lines.push(OrderLine {
                sku,
                quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
                unit_price,
            });
        }
    }
    (errors.len() == before).then_some(lines)
}

fn is_sku(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

fn text(body: &Map<String, Value>, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match body.get(field) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => {
            errors.push(FieldError::new(field, "required: a string"));
            None
        }
    }
}

fn identifier(body: &Map<String, Value>, field: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = text(body, field, errors)?;
    let valid = (1..=max).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Some(value)
    } else {
        errors.push(FieldError::new(
            field,
            format!("must be 1 to {max} of A-Z, a-z, 0-9, '-' and '_'"),
        ));
        None
    }
}

/// A non-negative whole number up to `max`; a negative, fractional or missing value is named.
fn whole_number(value: Option<&Value>, field: &str, max: u64, errors: &mut Vec<FieldError>) -> Option<u64> {
    match value.and_then(Value::as_u64) {
        Some(n) if n <= max => Some(n),
        Some(n) => {
            errors.push(FieldError::new(field, format!("{n} is over the limit of {max}")));
            None
        }
        None => {
            let what = match value {
                None => "required".to_owned(),
                Some(v) if v.as_i64().is_some_and(|n| n < 0) => format!("{v} is negative"),
                Some(v) => format!("{v} is not a whole number"),
            };
            errors.push(FieldError::new(
                field,
                format!("{what}: a whole number from 0 to {max}"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> Value {
        json!({ "customerId": "c-42", "customerName": "Ada Lovelace", "customerEmail": "ada@example.com",
                "shippingAddress": { "line1": "Keizersgracht 1", "city": "Amsterdam", "postalCode": "1015 CJ", "country": "NL" },
                "currency": "EUR", "total": 3399, "paymentToken": "tok_approve",
                "lines": [ { "sku": "SKU-RED-MUG", "quantity": 2, "unitPrice": 1250 },
                           { "sku": "SKU-TEA-100G", "quantity": 1, "unitPrice": 899 } ] })
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn given_a_valid_request_then_it_becomes_order_placed() {
        let placed = validate_order("o-1", &request()).unwrap();
        assert_eq!(
            (placed.order_id.as_str(), placed.total, placed.lines.len()),
            ("o-1", 3399, 2)
        );
        assert_eq!(placed.payment_token.as_deref(), Some("tok_approve"));
        assert_eq!(
            (placed.customer_email.as_str(), placed.shipping_address.country.as_str()),
            ("ada@example.com", "NL")
        );
    }

    #[tokio::test]
    async fn a_valid_order_is_sealed_field_by_field_and_nothing_personal_is_left_in_clear() {
        use field_crypto::{DECRYPT, GENERATE_DATA_KEY, LocalKeys, LocalMasterKey, Personal};
        let master = std::sync::Arc::new(LocalMasterKey::new("FieldKey"));
        let all = [
            personal::CUSTOMER_NAME,
            personal::CUSTOMER_EMAIL,
            personal::SHIPPING_ADDRESS,
            personal::PAYMENT_TOKEN,
        ];
        let cipher = FieldCipher::new(LocalKeys::new(master, "test", &[GENERATE_DATA_KEY, DECRYPT], &all));
        let placed = validate_order("o-1", &request()).unwrap().seal(&cipher).await.unwrap();
        let wire = serde_json::to_string(&placed).unwrap();
        for clear in ["Ada", "ada@", "Keizersgracht", "Amsterdam", "1015", "tok_approve"] {
            assert!(!wire.contains(clear), "{clear} in {wire}");
        }
        let contact = placed.customer.contact.unwrap();
        assert_eq!(
            cipher
                .open_text(personal::CUSTOMER_NAME, "o-1", &contact.name)
                .await
                .unwrap(),
            "Ada Lovelace"
        );
        let address: ShippingAddress = cipher
            .open_json(personal::SHIPPING_ADDRESS, "o-1", &placed.shipping_address.unwrap())
            .await
            .unwrap();
        assert_eq!(address.city, "Amsterdam");
        let Some(Personal::Sealed(token)) = placed.payment_token else {
            panic!("token not sealed")
        };
        assert_eq!(
            cipher.open_text(personal::PAYMENT_TOKEN, "o-1", &token).await.unwrap(),
            "tok_approve"
        );
        assert!(
            cipher.open_text(personal::PAYMENT_TOKEN, "o-2", &token).await.is_err(),
            "another order's event does not open it"
        );
    }

    #[test]
    fn given_bad_personal_fields_then_each_is_named_and_no_message_repeats_the_value() {
        let mut bad = request();
        bad["customerName"] = json!("");
        bad["customerEmail"] = json!("ada at example");
        bad["shippingAddress"]["country"] = json!("Netherlands");
        bad["shippingAddress"]["floor"] = json!(3);
        bad["shippingAddress"]["city"] = json!("x".repeat(101));
        let errors = validate_order("o-1", &bad).unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "customerName",
                "customerEmail",
                "shippingAddress.floor",
                "shippingAddress.city",
                "shippingAddress.country"
            ]
        );
        let text = format!("{errors:?}");
        assert!(
            !text.contains("ada at example") && !text.contains("Netherlands"),
            "{text}"
        );
        let mut long = request();
        long["currency"] = json!("E".repeat(1000));
        long["k".repeat(10_000)] = json!(1);
        let errors = validate_order("o-1", &long).unwrap_err();
        assert!(
            errors.iter().all(|e| e.field.len() <= 67 && e.message.len() < 100),
            "{errors:?}"
        );
        let mut missing = request();
        missing.as_object_mut().unwrap().remove("shippingAddress");
        assert_eq!(
            fields(&validate_order("o-1", &missing).unwrap_err()),
            ["shippingAddress"]
        );
    }

    #[test]
    fn given_many_problems_then_each_is_named_by_its_field() {
        let mut bad = request();
        bad["currency"] = json!("EURO");
        bad["lines"][0]["quantity"] = json!(0);
        bad["lines"][1]["unitPrice"] = json!(-5);
        bad["lines"][1]["sku"] = json!("lowercase");
        bad["colour"] = json!("red");
        let errors = validate_order("o-1", &bad).unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "colour",
                "currency",
                "lines[0].quantity",
                "lines[1].sku",
                "lines[1].unitPrice"
            ]
        );
        assert!(errors[4].message.starts_with("-5 is negative"), "{errors:?}");
    }

    #[test]
    fn given_an_inconsistent_total_then_the_total_is_named_with_the_right_sum() {
        let mut bad = request();
        bad["total"] = json!(100);
        let errors = validate_order("o-1", &bad).unwrap_err();
        assert_eq!(
            errors,
            [FieldError::new("total", "is 100 but the lines add up to 3399")]
        );
    }

    #[test]
    fn given_no_lines_too_many_lines_or_a_repeated_sku_then_lines_are_refused() {
        for lines in [
            json!([]),
            json!(vec![
                json!({ "sku": "A", "quantity": 1, "unitPrice": 1 });
                MAX_LINES + 1
            ]),
        ] {
            let mut bad = request();
            bad["lines"] = lines;
            assert_eq!(fields(&validate_order("o-1", &bad).unwrap_err())[0], "lines");
        }
        let mut bad = request();
        bad["lines"][1]["sku"] = json!("SKU-RED-MUG");
        assert!(fields(&validate_order("o-1", &bad).unwrap_err()).contains(&"lines[1].sku"));
    }

    #[test]
    fn currencies_are_checked_against_iso_4217() {
        assert!(is_iso_currency("EUR") && is_iso_currency("JPY") && is_iso_currency("USD"));
        assert!(!is_iso_currency("EU") && !is_iso_currency("XYZ") && !is_iso_currency("eur"));
    }
}
