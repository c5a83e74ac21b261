//! `prm --demo` seeding: idempotent, and it completes a seed that stopped half-way.

use prm_appointments::demo::{DemoSeed, seed};
use prm_store::Store;
use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

/// 3 locations + 8 practitioners, and their weekly schedules (3+2+5+3+5+5+3+3).
const RECORDS: usize = 11;
const SCHEDULES: usize = 29;

async fn schedules(store: &Store) -> usize {
    let ids: Vec<Uuid> = (0x101..=0x108)
        .map(|n| Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 + n))
        .collect();
    store.schedules_of(&ids).await.unwrap().len()
}

async fn delete_practitioner_row(store: &Store, id: Uuid) {
    let db = store.connection();
    let backend = db.get_database_backend();
    let placeholder = match backend {
        sea_orm::DatabaseBackend::Postgres => "$1",
        _ => "?",
    };
    db.execute(Statement::from_sql_and_values(
        backend,
        format!("DELETE FROM practitioners WHERE id = {placeholder}"),
        [id.into()],
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn seeding_completes_a_partial_seed_and_then_adds_nothing() {
    let store = prm_store::testing::fresh_store().await;
    let first = seed(&store).await.unwrap();
    assert_eq!(
        first,
        DemoSeed {
            created: RECORDS,
            existing: 0,
            schedules_created: SCHEDULES,
        }
    );
    assert_eq!(schedules(&store).await, SCHEDULES);

    // A run that stopped half-way: Dr. Ana Gómez was written but none of her three
    // schedules, Dra. Sofía Herrera lost one of five, and the last practitioner (with
    // his schedules, by cascade) was never written.
    let ana = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0101);
    for schedule in store.schedules_of(&[ana]).await.unwrap() {
        store.delete_schedule(ana, schedule.id).await.unwrap();
    }
    let sofia = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0105);
    let one = store
        .schedules_of(&[sofia])
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    store.delete_schedule(sofia, one.id).await.unwrap();
    delete_practitioner_row(
        &store,
        Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0108),
    )
    .await;
    assert_eq!(schedules(&store).await, SCHEDULES - 3 - 1 - 3);

    let repaired = seed(&store).await.unwrap();
    assert_eq!(
        repaired,
        DemoSeed {
            created: 1,
            existing: RECORDS - 1,
            schedules_created: 3 + 1 + 3,
        }
    );
    assert_eq!(schedules(&store).await, SCHEDULES);
    let restored = store.schedules_of(&[sofia]).await.unwrap();
    assert!(restored.iter().any(|s| s.id == one.id), "same fixed id");

    let again = seed(&store).await.unwrap();
    assert_eq!(
        again,
        DemoSeed {
            created: 0,
            existing: RECORDS,
            schedules_created: 0,
        }
    );
    assert_eq!(schedules(&store).await, SCHEDULES);
}
