//! Demo data: the organisation "Acme" with a centre-of-excellence workspace and two regional
//! children, a team per function and a user per role. Built through the same audited
//! operations people use, so the demo's audit log reads like a real one.

use crate::ops::{AddMember, AddTeamMember, CreateTeam, CreateWorkspace};
use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use rand::Rng;
use switchboard_core::{NewItem, Organization, Role, TeamFunction};
use switchboard_store::{new_id, now, orgs, users};

pub const ORG_SLUG: &str = "acme";

#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoUser {
    pub email: String,
    pub name: String,
    pub role: String,
    pub password: String,
}

/// (e-mail, name, role, workspace, team)
const PEOPLE: &[(&str, &str, Role, &str, Option<&str>)] = &[
    (
        "admin@acme.example",
        "Ada Admin",
        Role::Admin,
        "acme-global",
        None,
    ),
    (
        "manager@acme.example",
        "Mia Manager",
        Role::Manager,
        "acme-global",
        Some("Social"),
    ),
    (
        "publisher@acme.example",
        "Paul Publisher",
        Role::Publisher,
        "acme-global",
        Some("Social"),
    ),
    (
        "contributor@acme.example",
        "Chloé Contributor",
        Role::Contributor,
        "acme-de",
        None,
    ),
    (
        "agent@acme.example",
        "Jonas Agent",
        Role::Agent,
        "acme-global",
        Some("Support"),
    ),
    (
        "analyst@acme.example",
        "Seo-yeon Analyst",
        Role::Analyst,
        "acme-global",
        Some("Product"),
    ),
    (
        "viewer@acme.example",
        "Victor Viewer",
        Role::Viewer,
        "acme-global",
        Some("Executives"),
    ),
    (
        "ambassador@acme.example",
        "Amir Ambassador",
        Role::Ambassador,
        "acme-global",
        None,
    ),
];

const OWNER: (&str, &str) = ("owner@acme.example", "Olivia Owner");

const TEAMS: &[(&str, &str, TeamFunction)] = &[
    ("acme-global", "Social", TeamFunction::Social),
    ("acme-global", "Support", TeamFunction::Support),
    ("acme-global", "Sales", TeamFunction::Sales),
    ("acme-global", "Recruiting", TeamFunction::Recruiting),
    ("acme-global", "Product", TeamFunction::Product),
    ("acme-global", "Executives", TeamFunction::Executive),
    ("acme-de", "Social", TeamFunction::Social),
    ("acme-de", "Support", TeamFunction::Support),
    ("acme-kr", "Social", TeamFunction::Social),
    ("acme-kr", "Support", TeamFunction::Support),
];

fn password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

impl App {
    /// Seeds the demo organisation, or, when it is already there, gives its users new
    /// passwords. Returns every demo user with a password that works now.
    pub async fn seed_demo(&self) -> ServiceResult<Vec<DemoUser>> {
        let actor = Actor::Cli;
        let existing = {
            let mut c = self.store.read().await?;
            orgs::get_by_slug(&mut c, ORG_SLUG).await?
        };
        let mut out = Vec::new();
        if existing.is_some() {
            for (email, name, role) in
                std::iter::once((OWNER.0, OWNER.1, "owner (organisation)".to_string())).chain(
                    PEOPLE
                        .iter()
                        .map(|p| (p.0, p.1, format!("{} in {}", p.2, p.3))),
                )
            {
                let pw = password();
                let hash = crate::auth::hash_password(&pw).await?;
                let mut tx = self.store.write().await?;
                if let Some((u, _)) = users::get_by_email(&mut tx, email).await? {
                    users::set_password(&mut tx, &u.id, &hash).await?;
                    tx.commit().await?;
                    out.push(DemoUser {
                        email: email.into(),
                        name: name.into(),
                        role,
                        password: pw,
                    });
                }
            }
            return Ok(out);
        }

        let mut tx = self.store.write().await?;
        let org = Organization {
            id: new_id(),
            slug: ORG_SLUG.into(),
            name: "Acme".into(),
            created_at: now(),
        };
        orgs::insert(&mut tx, &org).await?;
        Audit {
            org_id: &org.id,
            workspace_id: None,
            action: "org.create",
            target_type: "organization",
            target_id: &org.id,
        }
        .write(&mut tx, &actor, NONE, Some(&org))
        .await?;
        tx.commit().await?;

        let pw = password();
        self.cli_add_user(ORG_SLUG, OWNER.0, Some(OWNER.1), &pw, true)
            .await?;
        out.push(DemoUser {
            email: OWNER.0.into(),
            name: OWNER.1.into(),
            role: "owner (organisation)".into(),
            password: pw,
        });

        for (name, slug, parent) in [
            ("Acme Global", "acme-global", None),
            ("Acme DE", "acme-de", Some("acme-global")),
            ("Acme KR", "acme-kr", Some("acme-global")),
        ] {
            let input = CreateWorkspace {
                org: Some(ORG_SLUG.into()),
                name: name.into(),
                slug: Some(slug.into()),
                parent: parent.map(|p| format!("{ORG_SLUG}/{p}")),
            };
            self.create_workspace(&actor, input).await?;
        }
        for (ws, name, function) in TEAMS {
            self.create_team(
                &actor,
                &format!("{ORG_SLUG}/{ws}"),
                CreateTeam {
                    name: (*name).into(),
                    function: *function,
                },
            )
            .await?;
        }
        for (email, name, role, ws, team) in PEOPLE {
            let pw = password();
            let ws = format!("{ORG_SLUG}/{ws}");
            let input = AddMember {
                email: (*email).into(),
                role: *role,
                name: Some((*name).into()),
                password: Some(pw.clone()),
            };
            self.add_member(&actor, &ws, input).await?;
            if let Some(team) = team {
                self.add_team_member(
                    &actor,
                    &ws,
                    team,
                    AddTeamMember {
                        user: (*email).into(),
                    },
                )
                .await?;
            }
            out.push(DemoUser {
                email: (*email).into(),
                name: (*name).into(),
                role: format!("{role} in {}", ws.trim_start_matches("acme/")),
                password: pw,
            });
        }
        self.seed_demo_items().await?;
        self.seed_demo_inbox().await?;
        Ok(out)
    }

    /// Saved replies in each region's language and an SLA policy per Support team, so the
    /// inbox is ready to work.
    async fn seed_demo_inbox(&self) -> ServiceResult<()> {
        let actor = Actor::Cli;
        for (ws, name, body) in [
            ("acme-global", "Sorry, we're on it", "Hi {{author}}, sorry about that. {{agent}} from the Acme team is looking into it and will get back to you here."),
            ("acme-global", "Pricing", "Hi {{author}}, thanks for asking! {{agent}} from our sales team will send you the details for your team."),
            ("acme-de", "Entschuldigung", "Hallo {{author}}, das tut uns leid – {{agent}} kümmert sich darum und meldet sich hier."),
            ("acme-kr", "사과", "{{author}}님, 불편을 드려 죄송합니다. {{agent}} 담당자가 확인 후 바로 답변드리겠습니다."),
        ] {
            self.create_saved_reply(
                &actor,
                &format!("{ORG_SLUG}/{ws}"),
                crate::inbox_work::SavedReplyInput {
                    name: name.into(),
                    body: body.into(),
                },
            )
            .await?;
        }
        for (ws, tz) in [
            ("acme-global", "Europe/Berlin"),
            ("acme-de", "Europe/Berlin"),
            ("acme-kr", "Asia/Seoul"),
        ] {
            let weekday = serde_json::json!({"start": "08:00", "end": "20:00"});
            let input = serde_json::from_value(serde_json::json!({
                "team": "Support", "priority": "normal",
                "first_response_minutes": 60, "resolution_minutes": 480, "time_zone": tz,
                "business_hours": {"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday},
            }))
            .map_err(ServiceError::internal)?;
            self.create_sla_policy(&actor, &format!("{ORG_SLUG}/{ws}"), input)
                .await?;
        }
        Ok(())
    }

    /// A dictionary in the centre of excellence and two weeks of mentions per region, run
    /// through the same enrichment and storage as real ones.
    async fn seed_demo_items(&self) -> ServiceResult<()> {
        let actor = Actor::Cli;
        let global = format!("{ORG_SLUG}/acme-global");
        for (kind, label, terms) in [
            (
                "product",
                "Acme App",
                vec!["Acme App", "AcmeApp", "애크미 앱", "Acme应用"],
            ),
            ("brand", "Acme", vec!["Acme", "애크미", "艾克米"]),
            ("competitor", "Globex", vec!["Globex", "글로벡스"]),
        ] {
            let entry = serde_json::from_value(
                serde_json::json!({"kind": kind, "label": label, "terms": terms}),
            )
            .map_err(ServiceError::internal)?;
            self.add_dictionary_entry(&actor, &global, entry).await?;
        }
        let now = time::OffsetDateTime::now_utc();
        for (ws, network, texts) in DEMO_ITEMS {
            let workspace = self
                .get_workspace(&actor, &format!("{ORG_SLUG}/{ws}"))
                .await?;
            let enricher = self.workspace_enricher(&workspace.workspace.id).await?;
            let mut writes = Vec::new();
            for (i, (text, handle)) in texts.iter().enumerate() {
                // Spread over the last 14 days, newest last.
                let at = now
                    - time::Duration::hours(
                        ((texts.len() - i) as i64) * 14 * 24 / texts.len() as i64,
                    );
                let item: NewItem = serde_json::from_value(serde_json::json!({
                    "network": network,
                    "external_id": format!("demo-{ws}-{i}"),
                    "kind": if i % 4 == 0 { "reply" } else { "mention" },
                    "author": {"id": format!("demo-{handle}"), "handle": handle, "display_name": handle.split('@').next().unwrap_or(handle), "followers": 120 + i * 37},
                    "text": text,
                    "created_at": switchboard_store::timestamp(at),
                }))
                .map_err(ServiceError::internal)?;
                writes.push(enricher.prepare(item));
            }
            self.store_items(&workspace.workspace.id, writes).await?;
        }
        self.seed_demo_listening(now).await
    }

    /// Topics, a release annotation, and a steady stream of mentions per region with a
    /// complaint surge two hours after the release in German and Korean: the spike the
    /// detector should find and explain.
    async fn seed_demo_listening(&self, now: time::OffsetDateTime) -> ServiceResult<()> {
        use rand::SeedableRng;
        let actor = Actor::Cli;
        let hour = now.unix_timestamp().div_euclid(3600) * 3600;
        let release = hour - 40 * 3600;
        for (ws, name, kind, query) in DEMO_TOPICS {
            let input = serde_json::from_value(
                serde_json::json!({"name": name, "kind": kind, "query": query}),
            )
            .map_err(ServiceError::internal)?;
            self.create_topic(&actor, &format!("{ORG_SLUG}/{ws}"), input)
                .await?;
        }
        let at = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .map(switchboard_store::timestamp)
                .unwrap_or_default()
        };
        self.create_annotation(
            &actor,
            &format!("{ORG_SLUG}/acme-global"),
            serde_json::from_value(
                serde_json::json!({"title": "App 4.2 release", "kind": "release", "at": at(release)}),
            )
            .map_err(ServiceError::internal)?,
        )
        .await?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        for (ws, network, everyday, complaints, handles) in DEMO_STREAMS {
            let workspace = self
                .get_workspace(&actor, &format!("{ORG_SLUG}/{ws}"))
                .await?;
            let enricher = self.workspace_enricher(&workspace.workspace.id).await?;
            let mut writes = Vec::new();
            let mut n = 0usize;
            let mut push = |t: i64, text: &str, rng: &mut rand::rngs::StdRng| {
                let handle = handles[rng.gen_range(0..handles.len())];
                let item: Result<NewItem, _> = serde_json::from_value(serde_json::json!({
                    "network": network,
                    "external_id": format!("stream-{ws}-{n}"),
                    "kind": "mention",
                    "author": {"id": format!("demo-{handle}"), "handle": handle, "display_name": handle.split(['@', '.']).next().unwrap_or(handle), "followers": rng.gen_range(20..20_000)},
                    "text": text,
                    "created_at": at(t + rng.gen_range(0..3600)),
                }));
                n += 1;
                item.map(|i| writes.push(enricher.prepare(i)))
            };
            for h in (0..14 * 24).rev() {
                let start = hour - h * 3600;
                // Busy days, quiet nights (in UTC; the regions are near enough).
                let hod = start.div_euclid(3600).rem_euclid(24);
                let busy = if (7..22).contains(&hod) { 4 } else { 1 };
                for _ in 0..rng.gen_range(0..=busy) {
                    let text = everyday[rng.gen_range(0..everyday.len())];
                    push(start, text, &mut rng).map_err(ServiceError::internal)?;
                }
                let since_release = start - release;
                if !complaints.is_empty() && (2 * 3600..5 * 3600).contains(&since_release) {
                    for _ in 0..rng.gen_range(25..35) {
                        let text = complaints[rng.gen_range(0..complaints.len())];
                        push(start, text, &mut rng).map_err(ServiceError::internal)?;
                    }
                }
            }
            self.store_items(&workspace.workspace.id, writes).await?;
        }
        Ok(())
    }
}

/// (workspace, name, kind, query)
const DEMO_TOPICS: &[(&str, &str, &str, &str)] = &[
    ("acme-global", "Acme", "brand", "acme OR 애크미 OR 艾克米"),
    (
        "acme-global",
        "Acme App",
        "product",
        "app OR #acmeapp OR \"애크미 앱\" OR 应用",
    ),
    ("acme-global", "Globex", "competitor", "globex OR 글로벡스"),
    ("acme-global", "Spring campaign", "campaign", "#acmespring"),
    ("acme-de", "Acme App DE", "product", "app lang:de"),
    ("acme-kr", "애크미 앱", "product", "애크미 OR 앱이"),
];

type Stream = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// (workspace, network, everyday mentions, complaints after the release, authors)
const DEMO_STREAMS: &[Stream] = &[
    (
        "acme-de",
        "mastodon",
        &[
            "Die Acme App ist okay, nutze sie täglich",
            "Mit der Acme App bestellt, Lieferung kam pünktlich",
            "Gibt es die Acme App auch für Tablets?",
            "Acme hat gerade gute Angebote #AcmeSpring",
            "Globex oder Acme, was nutzt ihr?",
            "Die neue Funktion in der App gefällt mir sehr gut",
            "Kann man in der Acme App die Rechnung herunterladen?",
            "Acme Support hat schnell geantwortet, danke",
            "Die Lieferung war leider etwas spät, schade",
        ],
        &[
            "Seit dem Update 4.2 stürzt die Acme App beim Login ab, total nervig",
            "Acme App 4.2: Absturz nach dem Login, bitte fixen!",
            "Login in der App geht seit dem Update nicht mehr, nur Absturz",
            "Die App stürzt ständig ab, Login unmöglich. Schlechtestes Update",
            "Nach dem Update Absturz beim Login, ich will mein Geld zurück",
        ],
        &[
            "jana@social.example",
            "mark@social.example",
            "tobi@social.example",
            "lea@social.example",
            "kai@social.example",
            "mia@social.example",
        ],
    ),
    (
        "acme-kr",
        "bluesky",
        &[
            "애크미 앱으로 오늘 주문했어요",
            "애크미 앱 새 기능 좋네요",
            "애크미 이벤트 참여했어요 #AcmeSpring",
            "글로벡스보다 애크미가 편해요",
            "애크미 앱이 빨라졌어요",
            "애크미 고객센터 친절해요",
            "애크미 배송이 좀 늦었어요 아쉬워요",
        ],
        &[
            "애크미 앱 업데이트 후에 로그인이 안 돼요. 계속 튕겨요",
            "애크미 앱 최악이에요 로그인 오류 때문에 아무것도 못 해요",
            "업데이트 후 애크미 앱이 계속 튕겨요 로그인 오류 빨리 고쳐 주세요",
            "애크미 앱 로그인 오류 너무 화나요 환불해 주세요",
        ],
        &[
            "minji.bsky.social",
            "jiho.bsky.social",
            "seoyeon.bsky.social",
            "hyun.bsky.social",
            "dami.bsky.social",
            "yuna.bsky.social",
        ],
    ),
    (
        "acme-global",
        "mastodon",
        &[
            "Using the Acme App every day, works well",
            "Acme delivery was on time again",
            "Is the Acme App available on Android tablets?",
            "Globex vs Acme: which one do you use?",
            "Great deals in the #AcmeSpring sale",
            "The new Acme App dashboard looks clean",
            "这个应用很好用",
        ],
        &[],
        &[
            "sam@example.social",
            "alex@example.social",
            "riley@example.social",
            "jo@example.social",
            "wei@example.social",
            "lin@example.social",
        ],
    ),
];

type DemoTexts = &'static [(&'static str, &'static str)];

/// (workspace, network, [(text, author handle)])
const DEMO_ITEMS: &[(&str, &str, DemoTexts)] = &[
    (
        "acme-de",
        "mastodon",
        &[
            (
                "Die neue Acme App ist richtig schnell geworden, danke! 👍",
                "jana@social.example",
            ),
            (
                "Seit dem Update 4.2 stürzt die Acme App beim Login ständig ab 😡",
                "mark@social.example",
            ),
            (
                "Login geht nicht mehr seit dem Update. Bitte schnell beheben!",
                "tobi@social.example",
            ),
            (
                "Wo kann ich das Pro-Abo kaufen? Gibt es einen Rabatt für Studenten?",
                "lea@social.example",
            ),
            (
                "Globex ist billiger, aber der Acme Support ist viel besser",
                "kai@social.example",
            ),
            (
                "Sucht ihr noch Entwickler in Berlin? Würde mich gerne bewerben",
                "sven@social.example",
            ),
            (
                "Bitte einen Dunkelmodus einbauen, das wäre super",
                "mia@social.example",
            ),
            (
                "Die App hängt beim Start, nach dem Update nur noch Fehler",
                "olaf@social.example",
            ),
        ],
    ),
    (
        "acme-kr",
        "bluesky",
        &[
            (
                "애크미 앱 새 기능 정말 좋아요 감사합니다 ❤️",
                "minji.bsky.social",
            ),
            (
                "업데이트 후에 로그인이 안 돼요 😭 빨리 고쳐 주세요",
                "jiho.bsky.social",
            ),
            ("배송이 너무 늦어요 환불해 주세요", "seoyeon.bsky.social"),
            ("프로 요금제는 어디서 구매할 수 있나요?", "hyun.bsky.social"),
            ("앱이 계속 튕겨요. 최악이에요", "dami.bsky.social"),
            ("글로벡스보다 애크미가 훨씬 편해요", "yuna.bsky.social"),
        ],
    ),
    (
        "acme-global",
        "mastodon",
        &[
            (
                "Love the new Acme App update, so much faster 😍",
                "sam@example.social",
            ),
            (
                "The Acme App keeps crashing since 4.2, I can't log in. Please fix this!",
                "alex@example.social",
            ),
            (
                "Are you hiring backend engineers? Would love to apply",
                "riley@example.social",
            ),
            (
                "Would be great to have a dark mode in the web client",
                "jo@example.social",
            ),
            ("这个质量太差了，我要退货", "wei@example.social"),
            ("新版本很好用，推荐给大家 👍", "lin@example.social"),
        ],
    ),
];
