//! The domains the local cloud's CLI bundles: the one place that names them. The emulator
//! knows none; each domain brings its functions, event types, samples and demo.

use emulator::domain::Domain;

/// Every domain of the project.
pub fn domains() -> Vec<&'static dyn Domain> {
    vec![&orders_demo::Orders, &sensors_demo::Sensors]
}
