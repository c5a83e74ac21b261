//! Clinic set-up: locations, practitioners, their weekly schedules, and patients.

use chrono::Utc;
use prm_domain::{
    Locale, Location, Patient, PhoneNumber, Practitioner, PractitionerSchedule, Weekday,
    specialty_key,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Set,
    sea_query::{Expr, Func, LockType},
};
use uuid::Uuid;

use crate::{
    Conflict, Page, Paged, Store, StoreError, Tx,
    audit::{Actor, AuditChange},
    entities::{location, patient, practitioner, schedule},
};

/// Records a clinic set-up change in `tx` when it was made through the clinic API.
async fn audit(
    tx: &Tx<'_>,
    actor: Option<&Actor>,
    action: &'static str,
    entity_type: &'static str,
    id: Uuid,
) -> Result<(), StoreError> {
    match actor {
        Some(actor) => {
            tx.record_audit(actor, &AuditChange::of(action, entity_type, id))
                .await
        }
        None => Ok(()),
    }
}

/// A delete that found nothing: not found, and nothing to record.
fn deleted(result: sea_orm::DeleteResult, what: &'static str) -> Result<(), StoreError> {
    if result.rows_affected == 0 {
        Err(StoreError::NotFound(what))
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
pub struct LocationFilter {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Case-insensitive city.
    pub city: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PractitionerFilter {
    pub name: Option<String>,
    /// Specialty (department), matched as departments are: trimmed, Unicode case-insensitive.
    pub specialty: Option<String>,
    pub active: Option<bool>,
    /// Practitioners with at least one schedule at this location.
    pub location_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default)]
pub struct ScheduleFilter {
    pub location_id: Option<Uuid>,
    pub day_of_week: Option<Weekday>,
}

#[derive(Debug, Clone, Default)]
pub struct PatientFilter {
    pub name: Option<String>,
    pub phone: Option<PhoneNumber>,
}

fn lower_like<C: ColumnTrait>(column: C, needle: &str) -> sea_orm::sea_query::SimpleExpr {
    let escaped = needle
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::expr(Func::lower(Expr::col(column)))
        .like(sea_orm::sea_query::LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

fn lower_eq<C: ColumnTrait>(column: C, value: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::expr(Func::lower(Expr::col(column))).eq(value.trim().to_lowercase())
}

pub(crate) async fn paged<E, M, T>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    page: Page,
    convert: impl Fn(M) -> Result<T, StoreError>,
) -> Result<Paged<T>, StoreError>
where
    E: EntityTrait<Model = M>,
    M: sea_orm::FromQueryResult + Sized + Send + Sync,
{
    let counted = select.clone().count(db).await?;
    let rows = select.offset(page.offset).limit(page.limit).all(db).await?;
    let items: Vec<T> = rows.into_iter().map(convert).collect::<Result<_, _>>()?;
    Ok(Paged {
        total: consistent_total(counted, page, items.len() as u64),
        items,
    })
}

/// The count and the page are two reads: a row committed between them would show in the
/// page but not in the count (a page of one conversation with `total: 0`). The page is
/// the later read, so it wins: a short page (the end of the list) gives the total
/// exactly, and a full page means at least as many as it reaches.
fn consistent_total(counted: u64, page: Page, returned: u64) -> u64 {
    let reached = page.offset + returned;
    match returned {
        // Past the end (or nothing at all): only the count knows.
        0 if page.offset > 0 => counted,
        n if n < page.limit => reached,
        _ => counted.max(reached),
    }
}

// ---- conversions ----

fn phone(raw: Option<String>) -> Result<Option<PhoneNumber>, StoreError> {
    raw.map(|p| PhoneNumber::parse(&p, "1").map_err(|e| StoreError::corrupt("phone", e)))
        .transpose()
}

pub(crate) fn location_from(m: location::Model) -> Result<Location, StoreError> {
    Ok(Location {
        id: m.id,
        name: m.name,
        timezone: m
            .timezone
            .parse()
            .map_err(|e| StoreError::corrupt("location timezone", e))?,
        address: m.address,
        city: m.city,
        phone: phone(m.phone)?,
    })
}

pub(crate) fn practitioner_from(m: practitioner::Model) -> Result<Practitioner, StoreError> {
    Ok(Practitioner {
        id: m.id,
        name: m.name,
        specialty: m.specialty,
        phone: phone(m.phone)?,
        active: m.active,
    })
}

pub(crate) fn schedule_from(m: schedule::Model) -> Result<PractitionerSchedule, StoreError> {
    Ok(PractitionerSchedule {
        id: m.id,
        practitioner_id: m.practitioner_id,
        location_id: m.location_id,
        day_of_week: Weekday::new(i64::from(m.day_of_week))
            .map_err(|e| StoreError::corrupt("day_of_week", e))?,
        start_time: m.start_time,
        end_time: m.end_time,
        slot_minutes: u32::try_from(m.slot_minutes)
            .map_err(|e| StoreError::corrupt("slot_minutes", e))?,
        valid_from: m.valid_from,
        valid_to: m.valid_to,
    })
}

pub(crate) fn patient_from(m: patient::Model) -> Result<Patient, StoreError> {
    Ok(Patient {
        id: m.id,
        name: m.name,
        phone: PhoneNumber::parse(&m.phone, "1")
            .map_err(|e| StoreError::corrupt("patient phone", e))?,
        birth_date: m.birth_date,
        locale: m
            .locale
            .map(|l| {
                l.parse::<Locale>()
                    .map_err(|e| StoreError::corrupt("locale", e))
            })
            .transpose()?,
    })
}

fn not_found_on_missing<T>(row: Option<T>, what: &'static str) -> Result<T, StoreError> {
    row.ok_or(StoreError::NotFound(what))
}

fn in_use(what: &'static str) -> impl Fn(StoreError) -> StoreError {
    move |e| match e {
        StoreError::MissingReference => StoreError::InUse(what),
        other => other,
    }
}

/// Clinic set-up writes are each one transaction (`Store::transaction`), so that one
/// that lost its connection before COMMIT runs again instead of failing. Reads go
/// through `Store::reads`, which reads again after a lost connection.
impl Store {
    // ---- locations ----

    pub async fn insert_location(&self, l: &Location) -> Result<Location, StoreError> {
        self.insert_location_as(l, None).await
    }

    pub(crate) async fn insert_location_as(
        &self,
        l: &Location,
        actor: Option<&Actor>,
    ) -> Result<Location, StoreError> {
        let now = Utc::now();
        let row = location::ActiveModel {
            id: Set(l.id),
            name: Set(l.name.clone()),
            timezone: Set(l.timezone.name().to_owned()),
            address: Set(l.address.clone()),
            city: Set(l.city.clone()),
            phone: Set(l.phone.as_ref().map(|p| p.as_str().to_owned())),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let row = &row;
        let row = self
            .transaction(|tx| {
                Box::pin(async move {
                    let row = tx.db(row.clone().insert(tx.conn()).await)?;
                    audit(tx, actor, "location.created", "location", row.id).await?;
                    Ok(row)
                })
            })
            .await?;
        location_from(row)
    }

    pub async fn get_location(&self, id: Uuid) -> Result<Location, StoreError> {
        location_from(not_found_on_missing(
            location::Entity::find_by_id(id).one(&self.reads()).await?,
            "location",
        )?)
    }

    pub async fn update_location(&self, l: &Location) -> Result<Location, StoreError> {
        self.update_location_as(l, None, "location.updated").await
    }

    pub(crate) async fn update_location_as(
        &self,
        l: &Location,
        actor: Option<&Actor>,
        action: &'static str,
    ) -> Result<Location, StoreError> {
        let row = self
            .transaction(|tx| {
                Box::pin(async move {
                    let existing = not_found_on_missing(
                        tx.db(location::Entity::find_by_id(l.id).one(tx.conn()).await)?,
                        "location",
                    )?;
                    let mut row = existing.into_active_model();
                    row.name = Set(l.name.clone());
                    row.timezone = Set(l.timezone.name().to_owned());
                    row.address = Set(l.address.clone());
                    row.city = Set(l.city.clone());
                    row.phone = Set(l.phone.as_ref().map(|p| p.as_str().to_owned()));
                    row.updated_at = Set(Utc::now());
                    let row = tx.db(row.update(tx.conn()).await)?;
                    audit(tx, actor, action, "location", row.id).await?;
                    Ok(row)
                })
            })
            .await?;
        location_from(row)
    }

    /// Deletes a location nobody uses; one with schedules or appointments is `InUse`.
    pub async fn delete_location(&self, id: Uuid) -> Result<(), StoreError> {
        self.delete_location_as(id, None).await
    }

    pub(crate) async fn delete_location_as(
        &self,
        id: Uuid,
        actor: Option<&Actor>,
    ) -> Result<(), StoreError> {
        self.transaction(|tx| {
            Box::pin(async move {
                let result = tx.db(location::Entity::delete_by_id(id).exec(tx.conn()).await)?;
                deleted(result, "location")?;
                audit(tx, actor, "location.deleted", "location", id).await
            })
        })
        .await
        .map_err(in_use("location"))
    }

    pub async fn list_locations(
        &self,
        f: &LocationFilter,
        page: Page,
    ) -> Result<Paged<Location>, StoreError> {
        let mut q = location::Entity::find();
        if let Some(name) = &f.name {
            q = q.filter(lower_like(location::Column::Name, name));
        }
        if let Some(city) = &f.city {
            q = q.filter(lower_eq(location::Column::City, city));
        }
        let q = q
            .order_by_asc(location::Column::Name)
            .order_by_asc(location::Column::Id);
        paged(&self.reads(), q, page, location_from).await
    }

    pub async fn locations_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Location>, StoreError> {
        let rows = location::Entity::find()
            .filter(location::Column::Id.is_in(ids.to_vec()))
            .all(&self.reads())
            .await?;
        rows.into_iter().map(location_from).collect()
    }

    // ---- practitioners ----

    pub async fn insert_practitioner(&self, p: &Practitioner) -> Result<Practitioner, StoreError> {
        self.insert_practitioner_as(p, None).await
    }

    pub(crate) async fn insert_practitioner_as(
        &self,
        p: &Practitioner,
        actor: Option<&Actor>,
    ) -> Result<Practitioner, StoreError> {
        let now = Utc::now();
        let row = practitioner::ActiveModel {
            id: Set(p.id),
            name: Set(p.name.clone()),
            specialty: Set(p.specialty.clone()),
            specialty_key: Set(specialty_key(&p.specialty)),
            phone: Set(p.phone.as_ref().map(|x| x.as_str().to_owned())),
            active: Set(p.active),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let row = &row;
        let row = self
            .transaction(|tx| {
                Box::pin(async move {
                    let row = tx.db(row.clone().insert(tx.conn()).await)?;
                    audit(tx, actor, "practitioner.created", "practitioner", row.id).await?;
                    Ok(row)
                })
            })
            .await?;
        practitioner_from(row)
    }

    pub async fn get_practitioner(&self, id: Uuid) -> Result<Practitioner, StoreError> {
        practitioner_from(not_found_on_missing(
            practitioner::Entity::find_by_id(id)
                .one(&self.reads())
                .await?,
            "practitioner",
        )?)
    }

    pub async fn update_practitioner(&self, p: &Practitioner) -> Result<Practitioner, StoreError> {
        self.update_practitioner_as(p, None, "practitioner.updated")
            .await
    }

    pub(crate) async fn update_practitioner_as(
        &self,
        p: &Practitioner,
        actor: Option<&Actor>,
        action: &'static str,
    ) -> Result<Practitioner, StoreError> {
        let row = self
            .transaction(|tx| {
                Box::pin(async move {
                    let existing = not_found_on_missing(
                        tx.db(practitioner::Entity::find_by_id(p.id).one(tx.conn()).await)?,
                        "practitioner",
                    )?;
                    let mut row = existing.into_active_model();
                    row.name = Set(p.name.clone());
                    row.specialty = Set(p.specialty.clone());
                    row.specialty_key = Set(specialty_key(&p.specialty));
                    row.phone = Set(p.phone.as_ref().map(|x| x.as_str().to_owned()));
                    row.active = Set(p.active);
                    row.updated_at = Set(Utc::now());
                    let row = tx.db(row.update(tx.conn()).await)?;
                    audit(tx, actor, action, "practitioner", row.id).await?;
                    Ok(row)
                })
            })
            .await?;
        practitioner_from(row)
    }

    /// Practitioners are deactivated, never deleted: their appointments remain history.
    pub async fn deactivate_practitioner(&self, id: Uuid) -> Result<Practitioner, StoreError> {
        self.deactivate_practitioner_as(id, None).await
    }

    pub(crate) async fn deactivate_practitioner_as(
        &self,
        id: Uuid,
        actor: Option<&Actor>,
    ) -> Result<Practitioner, StoreError> {
        let mut p = self.get_practitioner(id).await?;
        p.active = false;
        self.update_practitioner_as(&p, actor, "practitioner.deactivated")
            .await
    }

    pub async fn list_practitioners(
        &self,
        f: &PractitionerFilter,
        page: Page,
    ) -> Result<Paged<Practitioner>, StoreError> {
        let mut q = practitioner::Entity::find();
        if let Some(name) = &f.name {
            q = q.filter(lower_like(practitioner::Column::Name, name));
        }
        if let Some(specialty) = &f.specialty {
            q = q.filter(practitioner::Column::SpecialtyKey.eq(specialty_key(specialty)));
        }
        if let Some(active) = f.active {
            q = q.filter(practitioner::Column::Active.eq(active));
        }
        if let Some(location_id) = f.location_id {
            q = q.filter(
                practitioner::Column::Id.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(schedule::Column::PractitionerId)
                        .from(schedule::Entity)
                        .and_where(schedule::Column::LocationId.eq(location_id))
                        .to_owned(),
                ),
            );
        }
        let q = q
            .order_by_asc(practitioner::Column::Name)
            .order_by_asc(practitioner::Column::Id);
        paged(&self.reads(), q, page, practitioner_from).await
    }

    /// Active practitioners of a department: specialty and department compared by
    /// [`specialty_key`] (trimmed, Unicode case-insensitive) on both engines.
    pub async fn practitioners_in_department(
        &self,
        department: &str,
    ) -> Result<Vec<Practitioner>, StoreError> {
        let rows = practitioner::Entity::find()
            .filter(practitioner::Column::SpecialtyKey.eq(specialty_key(department)))
            .filter(practitioner::Column::Active.eq(true))
            .order_by_asc(practitioner::Column::Id)
            .all(&self.reads())
            .await?;
        rows.into_iter().map(practitioner_from).collect()
    }

    pub async fn practitioners_by_ids(
        &self,
        ids: &[Uuid],
    ) -> Result<Vec<Practitioner>, StoreError> {
        let rows = practitioner::Entity::find()
            .filter(practitioner::Column::Id.is_in(ids.to_vec()))
            .all(&self.reads())
            .await?;
        rows.into_iter().map(practitioner_from).collect()
    }

    // ---- schedules ----

    /// Inserts or replaces a schedule after checking, in one transaction, that the
    /// practitioner and location exist and that no other schedule of the practitioner
    /// overlaps it.
    ///
    /// The overlap check reads the siblings and then writes, which READ COMMITTED alone
    /// does not make atomic: two concurrent saves would both see no overlap. So the
    /// practitioner's row is locked first (`FOR NO KEY UPDATE` on PostgreSQL: it
    /// serializes schedule writes of one practitioner without blocking the foreign-key
    /// checks of bookings). SQLite has no row locks and needs none: the embedded mode
    /// has one connection, so its transactions never interleave.
    pub async fn save_schedule(
        &self,
        s: &PractitionerSchedule,
        replace: bool,
    ) -> Result<PractitionerSchedule, StoreError> {
        self.save_schedule_as(s, replace, None).await
    }

    pub(crate) async fn save_schedule_as(
        &self,
        s: &PractitionerSchedule,
        replace: bool,
        actor: Option<&Actor>,
    ) -> Result<PractitionerSchedule, StoreError> {
        let saved = self
            .transaction(|tx| {
                Box::pin(async move {
                    let txn = tx.conn();
                    if tx
                        .db(practitioner::Entity::find_by_id(s.practitioner_id)
                            .lock(LockType::NoKeyUpdate)
                            .one(txn)
                            .await)?
                        .is_none()
                    {
                        return Err(StoreError::NotFound("practitioner"));
                    }
                    if tx
                        .db(location::Entity::find_by_id(s.location_id).one(txn).await)?
                        .is_none()
                    {
                        return Err(StoreError::MissingReference);
                    }
                    let siblings = tx.db(schedule::Entity::find()
                        .filter(schedule::Column::PractitionerId.eq(s.practitioner_id))
                        .filter(schedule::Column::DayOfWeek.eq(i16::from(s.day_of_week.number())))
                        .filter(schedule::Column::Id.ne(s.id))
                        .all(txn)
                        .await)?;
                    for sibling in siblings {
                        if schedule_from(sibling)?.overlaps(s) {
                            return Err(StoreError::Conflict(Conflict::ScheduleOverlap));
                        }
                    }
                    let now = Utc::now();
                    let existing = tx.db(schedule::Entity::find_by_id(s.id).one(txn).await)?;
                    let action = if replace {
                        "schedule.updated"
                    } else {
                        "schedule.created"
                    };
                    let saved = match (existing, replace) {
                        (Some(existing), true) => {
                            if existing.practitioner_id != s.practitioner_id {
                                return Err(StoreError::NotFound("schedule"));
                            }
                            let mut row = existing.into_active_model();
                            row.location_id = Set(s.location_id);
                            row.day_of_week = Set(i16::from(s.day_of_week.number()));
                            row.start_time = Set(s.start_time);
                            row.end_time = Set(s.end_time);
                            row.slot_minutes = Set(s.slot_minutes as i32);
                            row.valid_from = Set(s.valid_from);
                            row.valid_to = Set(s.valid_to);
                            row.updated_at = Set(now);
                            tx.db(row.update(txn).await)
                        }
                        (None, true) => Err(StoreError::NotFound("schedule")),
                        (_, false) => tx.db(schedule::ActiveModel {
                            id: Set(s.id),
                            practitioner_id: Set(s.practitioner_id),
                            location_id: Set(s.location_id),
                            day_of_week: Set(i16::from(s.day_of_week.number())),
                            start_time: Set(s.start_time),
                            end_time: Set(s.end_time),
                            slot_minutes: Set(s.slot_minutes as i32),
                            valid_from: Set(s.valid_from),
                            valid_to: Set(s.valid_to),
                            created_at: Set(now),
                            updated_at: Set(now),
                        }
                        .insert(txn)
                        .await),
                    }?;
                    audit(tx, actor, action, "schedule", saved.id).await?;
                    Ok(saved)
                })
            })
            .await?;
        schedule_from(saved)
    }

    pub async fn get_schedule(
        &self,
        practitioner_id: Uuid,
        id: Uuid,
    ) -> Result<PractitionerSchedule, StoreError> {
        let row = schedule::Entity::find_by_id(id)
            .filter(schedule::Column::PractitionerId.eq(practitioner_id))
            .one(&self.reads())
            .await?;
        schedule_from(not_found_on_missing(row, "schedule")?)
    }

    pub async fn delete_schedule(&self, practitioner_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        self.delete_schedule_as(practitioner_id, id, None).await
    }

    pub(crate) async fn delete_schedule_as(
        &self,
        practitioner_id: Uuid,
        id: Uuid,
        actor: Option<&Actor>,
    ) -> Result<(), StoreError> {
        self.transaction(|tx| {
            Box::pin(async move {
                let result = tx.db(schedule::Entity::delete_many()
                    .filter(schedule::Column::Id.eq(id))
                    .filter(schedule::Column::PractitionerId.eq(practitioner_id))
                    .exec(tx.conn())
                    .await)?;
                deleted(result, "schedule")?;
                audit(tx, actor, "schedule.deleted", "schedule", id).await
            })
        })
        .await
    }

    pub async fn list_schedules(
        &self,
        practitioner_id: Uuid,
        f: &ScheduleFilter,
        page: Page,
    ) -> Result<Paged<PractitionerSchedule>, StoreError> {
        self.get_practitioner(practitioner_id).await?;
        let mut q =
            schedule::Entity::find().filter(schedule::Column::PractitionerId.eq(practitioner_id));
        if let Some(location_id) = f.location_id {
            q = q.filter(schedule::Column::LocationId.eq(location_id));
        }
        if let Some(day) = f.day_of_week {
            q = q.filter(schedule::Column::DayOfWeek.eq(i16::from(day.number())));
        }
        let q = q
            .order_by_asc(schedule::Column::DayOfWeek)
            .order_by_asc(schedule::Column::StartTime)
            .order_by_asc(schedule::Column::Id);
        paged(&self.reads(), q, page, schedule_from).await
    }

    pub async fn schedules_of(
        &self,
        practitioner_ids: &[Uuid],
    ) -> Result<Vec<PractitionerSchedule>, StoreError> {
        let rows = schedule::Entity::find()
            .filter(schedule::Column::PractitionerId.is_in(practitioner_ids.to_vec()))
            .all(&self.reads())
            .await?;
        rows.into_iter().map(schedule_from).collect()
    }

    // ---- patients ----

    pub async fn insert_patient(&self, p: &Patient) -> Result<Patient, StoreError> {
        self.insert_patient_as(p, None).await
    }

    pub(crate) async fn insert_patient_as(
        &self,
        p: &Patient,
        actor: Option<&Actor>,
    ) -> Result<Patient, StoreError> {
        let now = Utc::now();
        let row = patient::ActiveModel {
            id: Set(p.id),
            name: Set(p.name.clone()),
            phone: Set(p.phone.as_str().to_owned()),
            birth_date: Set(p.birth_date),
            locale: Set(p.locale.map(|l| l.as_str().to_owned())),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let row = &row;
        let row = self
            .transaction(|tx| {
                Box::pin(async move {
                    let row = tx.db(row.clone().insert(tx.conn()).await)?;
                    audit(tx, actor, "patient.created", "patient", row.id).await?;
                    Ok(row)
                })
            })
            .await?;
        patient_from(row)
    }

    pub async fn get_patient(&self, id: Uuid) -> Result<Patient, StoreError> {
        patient_from(not_found_on_missing(
            patient::Entity::find_by_id(id).one(&self.reads()).await?,
            "patient",
        )?)
    }

    pub async fn find_patient_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<Patient>, StoreError> {
        let row = patient::Entity::find()
            .filter(patient::Column::Phone.eq(phone.as_str()))
            .one(&self.reads())
            .await?;
        row.map(patient_from).transpose()
    }

    pub async fn update_patient(&self, p: &Patient) -> Result<Patient, StoreError> {
        self.update_patient_as(p, None, "patient.updated").await
    }

    pub(crate) async fn update_patient_as(
        &self,
        p: &Patient,
        actor: Option<&Actor>,
        action: &'static str,
    ) -> Result<Patient, StoreError> {
        let row = self
            .transaction(|tx| {
                Box::pin(async move {
                    let existing = not_found_on_missing(
                        tx.db(patient::Entity::find_by_id(p.id).one(tx.conn()).await)?,
                        "patient",
                    )?;
                    let mut row = existing.into_active_model();
                    row.name = Set(p.name.clone());
                    row.phone = Set(p.phone.as_str().to_owned());
                    row.birth_date = Set(p.birth_date);
                    row.locale = Set(p.locale.map(|l| l.as_str().to_owned()));
                    row.updated_at = Set(Utc::now());
                    let row = tx.db(row.update(tx.conn()).await)?;
                    audit(tx, actor, action, "patient", row.id).await?;
                    Ok(row)
                })
            })
            .await?;
        patient_from(row)
    }

    /// Deletes a patient without appointments; one with appointments is `InUse`.
    pub async fn delete_patient(&self, id: Uuid) -> Result<(), StoreError> {
        self.delete_patient_as(id, None).await
    }

    pub(crate) async fn delete_patient_as(
        &self,
        id: Uuid,
        actor: Option<&Actor>,
    ) -> Result<(), StoreError> {
        self.transaction(|tx| {
            Box::pin(async move {
                let result = tx.db(patient::Entity::delete_by_id(id).exec(tx.conn()).await)?;
                deleted(result, "patient")?;
                audit(tx, actor, "patient.deleted", "patient", id).await
            })
        })
        .await
        .map_err(in_use("patient"))
    }

    pub async fn list_patients(
        &self,
        f: &PatientFilter,
        page: Page,
    ) -> Result<Paged<Patient>, StoreError> {
        let mut q = patient::Entity::find();
        if let Some(name) = &f.name {
            q = q.filter(lower_like(patient::Column::Name, name));
        }
        if let Some(phone) = &f.phone {
            q = q.filter(patient::Column::Phone.eq(phone.as_str()));
        }
        let q = q
            .order_by_asc(patient::Column::Name)
            .order_by_asc(patient::Column::Id);
        paged(&self.reads(), q, page, patient_from).await
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;

    fn page(offset: u64, limit: u64) -> Page {
        Page { limit, offset }
    }

    #[test]
    fn the_page_read_after_the_count_decides_the_total() {
        // A row committed between the count and the page: the page shows it.
        assert_eq!(consistent_total(0, page(0, 20), 1), 1);
        // A short page is the end of the list: the total is exact.
        assert_eq!(consistent_total(7, page(0, 20), 5), 5);
        assert_eq!(consistent_total(30, page(20, 20), 4), 24);
        // A full page: at least as many as it reaches.
        assert_eq!(consistent_total(100, page(20, 20), 20), 100);
        assert_eq!(consistent_total(30, page(20, 20), 20), 40);
        // Past the end: nothing to go by but the count.
        assert_eq!(consistent_total(12, page(40, 20), 0), 12);
        assert_eq!(consistent_total(0, page(0, 20), 0), 0);
    }
}
