//! Scenarios: the file format (`model`), loading with located errors (`load`) and the load-time
//! checks that reject scenarios that can never pass (`check`).

pub mod check;
pub mod fields;
pub mod load;
pub mod model;

pub use load::{load_dir, LoadedScenario};
pub use model::{Level, PeerRole, Scenario};
