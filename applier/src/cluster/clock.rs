//! The clock of condition transition times, shared by the agent and the rollup: the wall clock to the
//! second in production, a fixed one in tests.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// A clock for condition transition times (fixed in tests).
pub(crate) type Clock = Box<dyn Fn() -> Time + Send>;

/// The wall clock, to the second (what the API keeps of a `Time`).
pub(crate) fn wall_clock() -> Time {
    Time(Timestamp::from_second(Timestamp::now().as_second()).expect("now is a valid time"))
}
