//! What the clinic reads out of the suite: the appointments as a spreadsheet
//! (`export`), the numbers of the journey (`stats`) and who changed what through the
//! clinic API (`audit`). Each module: handlers, `configure`, its OpenAPI part.

pub mod audit;
pub mod export;
pub mod stats;

use prm_platform::auth::Caller;
use prm_store::audit::Actor;

/// The audit trail's actor of a clinic API request.
pub fn actor(caller: Caller) -> Actor {
    Actor {
        key_id: caller.key_id.as_str().to_owned(),
        request_id: caller.request_id,
    }
}
