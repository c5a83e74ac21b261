use reqwest::Response;
use serde_json::Value;

/// Asserts that `response` is the RFC 9457 problem every PRM error is (ARCHITECTURE §5,
/// docs/architecture.md "HTTP"): `status`, content type `application/problem+json`,
/// `type` `urn:prm:problem:<code>`, a `title`, the same `status` in the body, the
/// stable `code` and a `detail`. Returns the body for further checks.
#[track_caller]
pub fn problem(
    response: Response,
    status: u16,
    code: &str,
) -> impl std::future::Future<Output = Value> {
    let caller = std::panic::Location::caller();
    let code = code.to_owned();
    async move {
        let answer = Answer::read(response).await;
        answer.check_problem(status, &code, caller);
        answer.body
    }
}

/// The field names of a validation problem's `errors`, in order.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A response read whole: what concurrent requests are compared by.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    /// The JSON body (`Null` when there is none or it is not JSON).
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub async fn read(response: Response) -> Self {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("a response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            content_type,
            body,
            text,
        }
    }

    /// Asserts the answer is the problem `status` / `code` (see [`problem`]).
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        self.check_problem(status, code, std::panic::Location::caller());
    }

    fn check_problem(&self, status: u16, code: &str, caller: &std::panic::Location<'_>) {
        let (body, text) = (&self.body, &self.text);
        assert_eq!(self.status, status, "status at {caller}: {text}");
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/problem+json"),
            "content type at {caller}: {text}"
        );
        assert!(
            body.is_object(),
            "a problem is a JSON object at {caller}: {text}"
        );
        assert_eq!(body["code"], code, "code at {caller}: {body}");
        assert_eq!(
            body["type"],
            format!("urn:prm:problem:{code}"),
            "type at {caller}: {body}"
        );
        assert_eq!(
            body["status"], status,
            "status in the body at {caller}: {body}"
        );
        assert!(
            body["title"].as_str().is_some_and(|t| !t.is_empty()),
            "a title at {caller}: {body}"
        );
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "a detail at {caller}: {body}"
        );
    }
}
