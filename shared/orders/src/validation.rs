//! Validation of an order as a customer submits it: every problem named by its field path,
//! so an API can answer with all of them at once.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::events::{OrderLine, OrderPlaced};

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

/// Checks an order request (`{customerId, currency, lines: [{sku, quantity, unitPrice}], total, paymentToken?}`)
/// and turns it into the event that places order `order_id`, or names every invalid field.
pub fn validate_order(order_id: &str, request: &Value) -> Result<OrderPlaced, Vec<FieldError>> {
    let Some(body) = request.as_object() else {
        return Err(vec![FieldError::new("", "the body must be a JSON object")]);
    };
    let mut errors = Vec::new();
    for key in body.keys() {
        if !["customerId", "currency", "lines", "total", "paymentToken"].contains(&key.as_str()) {
            errors.push(FieldError::new(key.clone(), "unknown field"));
        }
    }
    let customer_id = identifier(body, "customerId", 64, &mut errors);
    let currency = text(body, "currency", &mut errors).filter(|c| {
        let known = is_iso_currency(c);
        if !known {
            errors.push(FieldError::new(
                "currency",
                format!("'{c}' is not an ISO 4217 currency code"),
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
    match (customer_id, currency, lines, total) {
        (Some(customer_id), Some(currency), Some(lines), Some(total)) if errors.is_empty() => Ok(OrderPlaced {
            order_id: order_id.to_owned(),
            customer_id,
            currency,
            lines,
            total,
            payment_token,
        }),
        _ => Err(errors),
    }
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
            errors.push(FieldError::new(at(key), "unknown field"));
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
        json!({ "customerId": "c-42", "currency": "EUR", "total": 3399, "paymentToken": "tok_approve",
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
