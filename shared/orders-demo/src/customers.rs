//! Made-up customers: names, emails and addresses of the orders a run places, and every
//! personal value among them, which a test looks for in what the run left behind.

use serde_json::{Value, json};

/// Made-up customers: every personal value of a run is one of these, so a test can look for
/// each in everything the run left behind.
const GIVEN_NAMES: [&str; 5] = ["Ada", "Grace", "Alan", "Edsger", "Barbara"];
const FAMILY_NAMES: [&str; 4] = ["Lovelace", "Hopper", "Turing", "Liskov"];
/// Shipping destinations: the warehouse's country and abroad.
const CITIES: [(&str, &str, &str); 3] = [
    ("Amsterdam", "1015 CJ", "NL"),
    ("Berlin", "10117", "DE"),
    ("Lyon", "69002", "FR"),
];

/// The name of customer `number`.
pub fn customer_name(number: usize) -> String {
    format!(
        "{} {}",
        GIVEN_NAMES[number % GIVEN_NAMES.len()],
        FAMILY_NAMES[number % FAMILY_NAMES.len()]
    )
}

/// Every personal value order `number` sends, whatever its kind: name, email, street, and the
/// test payment tokens. What a run must never show in clear past order-api.
pub fn personal_values(number: usize) -> Vec<String> {
    let mut values = vec![
        customer_name(number),
        format!("customer.{number}@example.com"),
        format!("Canal Street {}", 100 + number),
    ];
    values.extend(["tok_approve", "tok_flaky", "tok_decline"].map(str::to_owned));
    values
}

/// The shipping address of customer `number`.
pub fn shipping_address(number: usize) -> Value {
    let (city, postal_code, country) = CITIES[number % CITIES.len()];
    json!({ "line1": format!("Canal Street {}", 100 + number), "city": city, "postalCode": postal_code, "country": country })
}
