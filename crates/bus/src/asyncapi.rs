//! The AsyncAPI 3 description of the events, generated from the catalog's Rust types so it
//! cannot drift: `openapi/asyncapi.yaml` is this document (JSON is valid YAML), and a test
//! fails when the committed file differs (`UPDATE_ASYNCAPI=1` rewrites it).

use std::collections::BTreeMap;

use prm_domain::events::{self, Event, EventType};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Where the committed document lives, relative to the workspace root.
pub const PATH: &str = "openapi/asyncapi.yaml";

const AMQP_BINDING_VERSION: &str = "0.3.0";

fn add_schema<T: ToSchema>(schemas: &mut BTreeMap<String, Value>) -> String {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    for (name, schema) in nested {
        schemas.insert(name, serde_json::to_value(schema).unwrap_or(Value::Null));
    }
    let name = T::name().into_owned();
    schemas.insert(
        name.clone(),
        serde_json::to_value(T::schema()).unwrap_or(Value::Null),
    );
    name
}

/// The payload schema name of each event type (adds it and what it references).
fn data_schema(event_type: EventType, schemas: &mut BTreeMap<String, Value>) -> String {
    use events::*;
    match event_type {
        EventType::MessageReceived => add_schema::<MessageReceived>(schemas),
        EventType::IntakeUpdated => add_schema::<IntakeUpdated>(schemas),
        EventType::TriageCompleted => add_schema::<TriageCompleted>(schemas),
        EventType::BookingAction => add_schema::<BookingAction>(schemas),
        EventType::SlotSelectionReceived => add_schema::<SlotSelectionReceived>(schemas),
        EventType::SlotsOffered => add_schema::<SlotsOffered>(schemas),
        EventType::AppointmentCreated => add_schema::<AppointmentCreated>(schemas),
        EventType::AppointmentCancelled => add_schema::<AppointmentCancelled>(schemas),
        EventType::AppointmentRescheduled => add_schema::<AppointmentRescheduled>(schemas),
        EventType::MessageSendRequested => add_schema::<MessageSendRequested>(schemas),
        EventType::MessageSent => add_schema::<MessageSent>(schemas),
        EventType::MessageStatusUpdated => add_schema::<MessageStatusUpdated>(schemas),
        EventType::ConversationOpened => add_schema::<ConversationOpened>(schemas),
        EventType::ConversationUpdated => add_schema::<ConversationUpdated>(schemas),
        EventType::ConversationClosed => add_schema::<ConversationClosed>(schemas),
        EventType::ConversationEscalated => add_schema::<ConversationEscalated>(schemas),
        EventType::TriageProposed => add_schema::<TriageProposed>(schemas),
        EventType::ReminderDue => add_schema::<ReminderDue>(schemas),
    }
}

/// `APPOINTMENT_CREATED` → `AppointmentCreated`.
fn pascal(event_type: EventType) -> String {
    event_type
        .as_str()
        .split('_')
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn camel(event_type: EventType) -> String {
    let p = pascal(event_type);
    let mut chars = p.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The AsyncAPI 3.0 document.
pub fn document() -> Value {
    let mut schemas = BTreeMap::new();
    let mut channels = serde_json::Map::new();
    let mut operations = serde_json::Map::new();
    let mut messages = serde_json::Map::new();

    schemas.insert(
        "TraceHeaders".to_owned(),
        json!({
            "type": "object",
            "description": "AMQP application headers.",
            "properties": {
                "traceparent": {
                    "type": "string",
                    "description": "W3C trace context of the producing span.",
                    "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                    "examples": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
                }
            }
        }),
    );

    for event_type in EventType::ALL {
        let name = pascal(event_type);
        let channel_id = camel(event_type);
        let routing_key = event_type.routing_key();
        let data = data_schema(event_type, &mut schemas);
        let envelope_schema = format!("{name}Envelope");
        schemas.insert(
            envelope_schema.clone(),
            json!({
                "type": "object",
                "description": format!("Envelope of {}.", event_type.as_str()),
                "required": ["id", "type", "occurred_at", "source", "data"],
                "properties": {
                    "id": { "type": "string", "format": "uuid", "description": "Event id; consumers deduplicate on it. Also the AMQP message_id." },
                    "type": { "type": "string", "const": event_type.as_str() },
                    "occurred_at": { "type": "string", "format": "date-time" },
                    "source": { "type": "string", "examples": [event_type.producer()] },
                    "data": { "$ref": format!("#/components/schemas/{data}") }
                }
            }),
        );
        let example =
            serde_json::to_value(Event::example_envelope(event_type)).unwrap_or(Value::Null);
        messages.insert(
            name.clone(),
            json!({
                "name": event_type.as_str(),
                "title": event_type.as_str(),
                "summary": event_type.description(),
                "contentType": "application/json",
                "correlationId": { "location": "$message.payload#/id" },
                "headers": { "$ref": "#/components/schemas/TraceHeaders" },
                "payload": { "$ref": format!("#/components/schemas/{envelope_schema}") },
                "bindings": {
                    "amqp": {
                        "contentEncoding": "utf-8",
                        "messageType": event_type.as_str(),
                        "bindingVersion": AMQP_BINDING_VERSION
                    }
                },
                "examples": [{
                    "name": format!("{}_example", event_type.as_str().to_ascii_lowercase()),
                    "headers": { "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
                    "payload": example
                }]
            }),
        );
        channels.insert(
            channel_id.clone(),
            json!({
                "address": routing_key,
                "title": event_type.as_str(),
                "description": format!("Routing key `{routing_key}` on the topic exchange `prm.events`. Published by `{}`.", event_type.producer()),
                "messages": { name.clone(): { "$ref": format!("#/components/messages/{name}") } },
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {
                            "name": "prm.events",
                            "type": "topic",
                            "durable": true,
                            "autoDelete": false,
                            "vhost": "/"
                        },
                        "bindingVersion": AMQP_BINDING_VERSION
                    }
                }
            }),
        );
        operations.insert(
            format!("publish{name}"),
            json!({
                "action": "send",
                "title": format!("{} publishes {}", event_type.producer(), event_type.as_str()),
                "channel": { "$ref": format!("#/channels/{channel_id}") },
                "messages": [{ "$ref": format!("#/channels/{channel_id}/messages/{name}") }],
                "bindings": {
                    "amqp": {
                        "deliveryMode": 2,
                        "mandatory": false,
                        "timestamp": true,
                        "ack": true,
                        "bindingVersion": AMQP_BINDING_VERSION
                    }
                }
            }),
        );
    }

    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "PRM events",
            "version": "1.0.0",
            "description": "Events of the PRM suite on RabbitMQ. Every message is a JSON envelope \
    `{ id, type, occurred_at, source, data }` published persistently with publisher confirms to the \
    durable topic exchange `prm.events`; the routing key is the type in lower dotted form \
    (`APPOINTMENT_CREATED` → `appointment.created`). AMQP properties: `message_id` = id, `type` = type, \
    `content_type` = application/json, header `traceparent` (W3C). Delivery is at least once: \
    deduplicate by `id`. See docs/events.md."
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "Set AMQP_URL to the broker of your deployment."
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages
        }
    })
}

/// Objects with their keys sorted, whether or not serde_json's `preserve_order` feature
/// is unified into the build: the committed file must not depend on it.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// The file content: a comment line, then the document as pretty JSON (valid YAML 1.2).
pub fn render() -> String {
    let body = serde_json::to_string_pretty(&canonical(document())).unwrap_or_default();
    format!(
        "# Generated from the event catalog (crates/domain/src/events.rs) by prm_bus::asyncapi.\n\
         # Do not edit: run `UPDATE_ASYNCAPI=1 cargo test -p prm-bus --test asyncapi`.\n{body}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "$ref" {
                        out.extend(v.as_str().map(str::to_owned));
                    }
                    refs(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 50);
        for r in all {
            let pointer = r.strip_prefix('#').expect("local ref");
            let pointer = pointer.replace("~1", "/");
            assert!(doc.pointer(&pointer).is_some(), "dangling $ref {r}");
        }
    }

    #[test]
    fn every_event_has_a_channel_with_its_routing_key_and_an_example() {
        let doc = document();
        for t in EventType::ALL {
            let channel = &doc["channels"][camel(t)];
            assert_eq!(channel["address"], t.routing_key());
            assert_eq!(
                channel["bindings"]["amqp"]["exchange"]["name"],
                "prm.events"
            );
            let message = &doc["components"]["messages"][pascal(t)];
            assert_eq!(message["examples"][0]["payload"]["type"], t.as_str());
        }
        assert_eq!(
            pascal(EventType::MessageSendRequested),
            "MessageSendRequested"
        );
        let created = &doc["components"]["schemas"]["AppointmentCreated"]["properties"];
        for field in [
            "appointment_id",
            "status",
            "start",
            "end",
            "patient",
            "practitioner",
            "location",
            "conversation_id",
            "channel",
        ] {
            assert!(
                created.get(field).is_some(),
                "AppointmentCreated.{field} missing from the schema"
            );
        }
    }
}
