use super::*;
use serde_json::json;

#[test]
fn routing_keys_are_the_type_in_lower_dotted_form() {
    assert_eq!(
        EventType::AppointmentCreated.routing_key(),
        "appointment.created"
    );
    assert_eq!(
        EventType::MessageSendRequested.routing_key(),
        "message.send.requested"
    );
    assert_eq!(
        EventType::SlotSelectionReceived.routing_key(),
        "slot.selection.received"
    );
    for t in EventType::ALL {
        assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
        assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        assert_eq!(t.routing_key(), t.as_str().to_lowercase().replace('_', "."));
    }
    assert!("APPOINTMENT_EXPLODED".parse::<EventType>().is_err());
}

#[test]
fn every_example_round_trips_through_its_envelope() {
    for t in EventType::ALL {
        let envelope = Event::example_envelope(t);
        assert_eq!(envelope.event_type, t.as_str());
        assert!(
            envelope.data.is_object(),
            "{t} example serialized to {:?}",
            envelope.data
        );
        let wire = serde_json::to_string(&envelope).unwrap();
        let back: Envelope = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, envelope);
        let event = back.decode().unwrap();
        assert_eq!(event.event_type(), t);
        assert_eq!(event.into_envelope(t.producer()).data, envelope.data);
    }
}

#[test]
fn appointment_created_matches_the_contract_field_for_field() {
    let envelope = Envelope::at(
        "appointments",
        AppointmentCreated::example(),
        Uuid::nil(),
        DateTime::parse_from_rfc3339("2026-11-22T14:03:07Z")
            .unwrap()
            .to_utc(),
    );
    let wire = serde_json::to_value(&envelope).unwrap();
    let a = "5f1c9b1e-0d4a-4c8e-9a4f-";
    assert_eq!(
        wire,
        json!({
            "id": "00000000-0000-0000-0000-000000000000",
            "type": "APPOINTMENT_CREATED",
            "occurred_at": "2026-11-22T14:03:07Z",
            "source": "appointments",
            "data": {
                "appointment_id": format!("{a}000000000005"),
                "status": "booked",
                "start": "2026-11-23T10:30:00-05:00",
                "end": "2026-11-23T11:00:00-05:00",
                "patient": { "id": format!("{a}000000000001"), "name": "María Pérez", "phone": "+573001234567" },
                "practitioner": { "id": format!("{a}000000000002"), "name": "Dr. Ana Gómez", "specialty": "Cardiology" },
                "location": { "id": format!("{a}000000000003"), "name": "Sede Norte", "timezone": "America/Bogota" },
                "conversation_id": format!("{a}000000000004"),
                "channel": "whatsapp"
            }
        })
    );
}

#[test]
fn message_received_matches_the_contract_field_for_field() {
    let data = serde_json::to_value(MessageReceived::example()).unwrap();
    let mut keys: Vec<_> = data.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "body",
            "channel",
            "from",
            "media",
            "message_id",
            "profile_name",
            "provider",
            "provider_message_id",
            "received_at",
            "to",
            "transcription",
            "wa_id"
        ]
    );
    assert_eq!(data["provider"], "twilio");
    assert_eq!(
        data["from"], "+573001234567",
        "E.164 without the whatsapp: prefix"
    );
    assert!(
        data.get("intent").is_none() && data.get("extracted_data").is_none(),
        "voice-agent fields are omitted from other providers' messages"
    );
    let voice = MessageReceived {
        provider: MessageProvider::VoiceAgent,
        intent: Some("book_appointment".into()),
        extracted_data: Some(serde_json::json!({"department": "Cardiology"})),
        ..MessageReceived::example()
    };
    let voice = serde_json::to_value(voice).unwrap();
    assert_eq!(voice["provider"], "voice_agent");
    assert_eq!(voice["intent"], "book_appointment");
    assert_eq!(voice["extracted_data"]["department"], "Cardiology");
}

#[test]
fn shared_locations_and_provider_fields_are_additive() {
    let plain = serde_json::to_value(MessageReceived::example()).unwrap();
    assert!(plain.get("location").is_none() && plain.get("provider_fields").is_none());
    let at =
        SharedLocation::parse(" 4.6534649", "-74.0836453", Some("Cra 7".into()), None).unwrap();
    assert_eq!((at.latitude, at.longitude), (4.6534649, -74.0836453));
    let mut fields = serde_json::Map::new();
    fields.insert("ButtonPayload".into(), json!("confirm"));
    let shared = MessageReceived {
        location: Some(at),
        provider_fields: Some(fields),
        ..MessageReceived::example()
    };
    let value = serde_json::to_value(&shared).unwrap();
    assert_eq!(
        value["location"],
        json!({"latitude": 4.6534649, "longitude": -74.0836453, "address": "Cra 7"})
    );
    assert_eq!(value["provider_fields"]["ButtonPayload"], "confirm");
    assert_eq!(
        serde_json::from_value::<MessageReceived>(value).unwrap(),
        shared
    );
    for (lat, lon) in [
        ("91", "0"),
        ("0", "180.5"),
        ("NaN", "0"),
        ("inf", "1"),
        ("", "1"),
        ("x", "y"),
    ] {
        assert!(
            SharedLocation::parse(lat, lon, None, None).is_none(),
            "{lat},{lon}"
        );
    }
    assert!(
        SharedLocation::parse("-90", "180", Some(" ".into()), Some("".into()))
            .is_some_and(|l| l.address.is_none() && l.label.is_none())
    );
}

#[test]
fn data_as_checks_the_type_and_the_shape() {
    let envelope = Envelope::new("appointments", AppointmentCreated::example());
    assert_eq!(envelope.source, "appointments");
    assert_eq!(envelope.routing_key(), "appointment.created");
    assert_eq!(
        envelope.data_as::<AppointmentCreated>().unwrap(),
        AppointmentCreated::example()
    );
    assert!(matches!(
        envelope.data_as::<MessageSent>(),
        Err(EventDecodeError::WrongType {
            expected: EventType::MessageSent,
            ..
        })
    ));
    let mut broken = envelope.clone();
    broken.data["start"] = json!("tomorrow");
    assert!(matches!(
        broken.decode(),
        Err(EventDecodeError::InvalidData { .. })
    ));
    let unknown = Envelope {
        event_type: "PATIENT_TELEPORTED".into(),
        ..envelope
    };
    assert!(matches!(
        unknown.decode(),
        Err(EventDecodeError::UnknownType(_))
    ));
    assert_eq!(unknown.routing_key(), "patient.teleported");
}

#[test]
fn new_envelopes_get_distinct_time_ordered_ids() {
    let a = Envelope::new("x", MessageSent::example());
    let b = Envelope::new("x", MessageSent::example());
    assert_ne!(a.id, b.id);
    assert_eq!(a.id.get_version_num(), 7);
}
