//! What the model is told. The patient's message goes alone in the user turn; the
//! state and the clinic go in the system prompt.

use prm_domain::Locale;
use serde_json::json;

use crate::{
    intake::{IntakeField, IntakeTurn},
    triage::TriageInput,
};

fn language(locale: Locale) -> &'static str {
    match locale {
        Locale::Es => "Spanish (informal tú, as used in Latin America)",
        Locale::En => "English",
    }
}

pub fn intake(turn: &IntakeTurn<'_>) -> (String, String) {
    let state = turn.state;
    let order: Vec<&str> = IntakeField::ORDER.iter().map(|f| f.as_str()).collect();
    let missing: Vec<&str> = state.required_fields.iter().map(|f| f.as_str()).collect();
    let locations: Vec<&str> = turn
        .clinic
        .locations
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    let asked = state.asked.map_or("nothing yet", |f| f.as_str());
    let first = if turn.first_message {
        "This is the patient's first message: greet them briefly in the question."
    } else {
        "This is not the patient's first message: do not greet again."
    };
    let system = format!(
        "You are the appointment intake assistant of a medical clinic, chatting with a patient on WhatsApp. \
You never give medical advice or a diagnosis.\n\
The intake collects these fields, asked in this order: {order}.\n\
Still missing: {missing}. Already collected: {known}. The last question asked for: {asked}.\n\
From the patient's latest message, extract every field it answers (one message may answer several) into \
extracted_data, with null for each field it does not answer. Values:\n\
- name: the patient's full name, capitalised.\n\
- date_of_birth: YYYY-MM-DD. Today is {today}; a birth date is never in the future. Numeric dates are day/month/year.\n\
- chief_complaint, symptoms, allergies, medications: the patient's own words; \"none\" when they have none, \"unknown\" when they do not know.\n\
- preferred_location: exactly one of {locations}, or \"any\".\n\
- preferred_day_time: {{\"text\": the patient's words, \"day_of_week\": 0 (Monday) to 6 (Sunday) or null, \"time_of_day\": \"HH:MM\" (24-hour) or null, \"asap\": true when they want the soonest slot}}.\n\
Then write next_question: one short, friendly question in {language} for the first field still missing after this message; \
null when none is missing. {first} If the patient did not understand the last question, ask it again in other words with an example.\n\
intake_complete is true only when no field is missing.",
        order = order.join(", "),
        missing = json!(missing),
        known = serde_json::Value::Object(state.extracted.to_json()),
        today = turn.today.format("%Y-%m-%d"),
        locations = json!(locations),
        language = language(state.locale),
    );
    (system, turn.message.to_owned())
}

pub fn triage(input: &TriageInput<'_>) -> (String, String) {
    let system = format!(
        "You triage patients of a medical clinic to exactly one of its departments: {departments}.\n\
If the patient asks for one of these departments by name, choose it. Children go to pediatrics when the clinic has it.\n\
urgency: \"emergency\" for life-threatening signs (cannot breathe, fainting, heavy bleeding, chest pain with shortness \
of breath, suicidal thoughts, stroke signs, seizures); \"urgent\" for e.g. a high fever in a baby, intense pain, bleeding \
that is not heavy, symptoms getting worse; otherwise \"routine\".\n\
confidence: from 0 to 1. reasoning: one short sentence in English for clinic staff. Today is {today}.",
        departments = json!(input.clinic.departments),
        today = input.today.format("%Y-%m-%d"),
    );
    let user = json!({
        "intake": serde_json::Value::Object(input.data.to_json()),
        "patient_messages": input.patient_texts,
    })
    .to_string();
    (system, user)
}
