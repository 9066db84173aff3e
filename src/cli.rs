use crate::bench;
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard_core::{Role, TeamFunction};
use switchboard_server::{Application, ServerConfig};
use switchboard_service::ingest::ImportOptions;
use switchboard_service::ops::{AddMember, AddTeamMember, CreateTeam, CreateWorkspace};
use switchboard_service::secrets::SecretBox;
use switchboard_service::{Actor, App, ServiceConfig, ServiceError};
use switchboard_store::Store;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Social data for every department: listening, inbox, publishing, advocacy, attribution."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Global {
    /// Where Switchboard keeps its database and indexes.
    #[arg(long, global = true, env = "SWITCHBOARD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Store of record: default SQLite in the data dir; a postgres:// URL selects PostgreSQL.
    #[arg(
        long,
        global = true,
        env = "SWITCHBOARD_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// 32-byte key (64 hex digits or base64) sealing stored secrets; default: DATA_DIR/secret.key, created on first use.
    #[arg(
        long,
        global = true,
        env = "SWITCHBOARD_SECRET_KEY",
        hide_env_values = true
    )]
    secret_key: Option<String>,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "SWITCHBOARD_BIND")]
    bind: SocketAddr,
    /// Mark session cookies Secure even without X-Forwarded-Proto: https (set this behind TLS).
    #[arg(long, env = "SWITCHBOARD_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Trust X-Forwarded-For for the client address (only behind your own reverse proxy).
    #[arg(long, env = "SWITCHBOARD_TRUST_PROXY")]
    trust_proxy: bool,
    /// Seconds between polls of each live channel (Mastodon, Bluesky).
    #[arg(long, default_value_t = 60, env = "SWITCHBOARD_POLL_INTERVAL")]
    poll_interval: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server on the configured data dir.
    Serve(ServeArgs),
    /// Run the server with demo data (a fresh data dir unless --data-dir is given) and print the demo logins.
    Demo(ServeArgs),
    /// Apply database migrations (the server also applies them at start-up).
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage personal API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCmd),
    /// Manage teams.
    #[command(subcommand)]
    Team(TeamCmd),
    /// Manage workspace members.
    #[command(subcommand)]
    Member(MemberCmd),
    /// Import items from a file (or - for standard input) into a workspace.
    Import(ImportArgs),
    /// Read NDJSON lines {"id": "...", "text": "..."} on stdin; write language, sentiment and intents per line.
    Analyze,
    /// Manage signed webhook sources that push items into a workspace.
    #[command(subcommand)]
    Source(SourceCmd),
    /// Benchmarks that print their figures.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Search a workspace's items with the listening query language (docs/query-language.md).
    Search(SearchArgs),
    /// Rebuild the search index from the store (a running server does it on request).
    Reindex,
}

#[derive(Args)]
struct SearchArgs {
    /// Workspace id, slug or ORG/SLUG.
    #[arg(long)]
    workspace: String,
    /// ndjson: one item per line, newest first; json: one document with the total; count: the number of matches.
    #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "json", "count"])]
    format: String,
    /// Most items to print.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// The query, e.g. 'lang:de (lieferung OR versand) -#werbung'.
    query: String,
}

#[derive(Args)]
struct ImportArgs {
    /// Workspace id, slug or ORG/SLUG.
    #[arg(long)]
    workspace: String,
    /// mastodon, activitypub-outbox, bluesky, twitter-archive, csv or ndjson (Switchboard items).
    #[arg(long)]
    format: String,
    /// CSV column mapping, e.g. text=body,external_id=id,created_at=date,author_handle=user.
    #[arg(long)]
    map: Option<String>,
    /// The network of every CSV row (unless the mapping names a network column).
    #[arg(long)]
    network: Option<String>,
    /// The account an X/Twitter archive belongs to: HANDLE or HANDLE:ID.
    #[arg(long)]
    account: Option<String>,
    /// Reject the whole file, writing nothing, if any record is malformed.
    #[arg(long)]
    strict: bool,
    /// The file to import; - reads standard input.
    file: String,
}

#[derive(Subcommand)]
enum SourceCmd {
    /// Create a webhook source and print its signing secret (shown only once).
    Add {
        #[arg(long)]
        workspace: String,
        /// The {source} in /api/v1/workspaces/{ws}/ingest/{source}.
        #[arg(long)]
        name: String,
        /// Body format of deliveries: ndjson (Switchboard items), mastodon or bluesky.
        #[arg(long, default_value = "ndjson")]
        format: String,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Generate multilingual items and import them: items/s, MB/s, peak memory.
    Ingest {
        #[arg(long, default_value_t = 1_000_000)]
        items: u64,
    },
    /// Store N items in M conversations, time the router (items/s) and the inbox list views (p50/p95).
    Inbox {
        #[arg(long, default_value_t = 1_000_000)]
        items: u64,
        #[arg(long, default_value_t = 200_000)]
        conversations: u64,
        /// Timed runs of each list view.
        #[arg(long, default_value_t = 30)]
        runs: usize,
    },
    /// Build the listening search index two ways and time a query suite: ours vs raw tantivy.
    Listen {
        #[arg(long, default_value_t = 1_000_000)]
        items: u64,
        /// Timed runs of each query (after one warm-up).
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Where to build the indexes (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user in an organisation (creating the organisation if needed), or reset an existing user's password.
    Add {
        #[arg(long)]
        email: String,
        /// Organisation slug.
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: Option<String>,
        /// Make the user an owner of the organisation.
        #[arg(long)]
        owner: bool,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a personal API token for a user and print it (it is shown only once).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum WorkspaceCmd {
    /// Create a workspace.
    Add {
        /// Organisation slug (or id).
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: Option<String>,
        /// Parent workspace (id, slug or ORG/SLUG): the centre of excellence it belongs to.
        #[arg(long)]
        parent: Option<String>,
    },
    /// List workspaces as JSON lines.
    List,
}

#[derive(Subcommand)]
enum TeamCmd {
    /// Create a team in a workspace.
    Add {
        /// Workspace id, slug or ORG/SLUG.
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
        /// social, support, sales, recruiting, product, executive or custom.
        #[arg(long, default_value = "custom")]
        function: TeamFunction,
    },
}

#[derive(Subcommand)]
enum MemberCmd {
    /// Give a person a role in a workspace (creating their account if needed), optionally adding them to a team.
    Add {
        /// Workspace id, slug or ORG/SLUG.
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
        /// owner, admin, manager, publisher, contributor, agent, analyst, viewer or ambassador.
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: Option<String>,
        /// Add the member to this team (name or id) too.
        #[arg(long)]
        team: Option<String>,
        /// Read the initial password of a new account from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A service error as a person at a terminal should read it.
fn explain(e: ServiceError) -> anyhow::Error {
    match e.field() {
        Some(f) => anyhow::anyhow!(
            "{f}: {}",
            match &e {
                ServiceError::Validation(v) => v.message.clone(),
                other => other.to_string(),
            }
        ),
        None => anyhow::anyhow!("{e}"),
    }
}

fn database_url(global: &Global, data_dir: &Path) -> Result<String> {
    match &global.database_url {
        Some(url) => Ok(url.clone()),
        None => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
            Ok(switchboard_store::sqlite_url_for_dir(data_dir))
        }
    }
}

/// The key that seals stored secrets: from configuration, else the data dir's key file,
/// created (readable by the owner only) the first time.
fn secret_box(global: &Global, data_dir: &Path) -> Result<SecretBox> {
    if let Some(k) = &global.secret_key {
        return SecretBox::parse_key(k)
            .map(SecretBox::new)
            .map_err(|e| anyhow::anyhow!("--secret-key: {e}"));
    }
    let path = data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => SecretBox::parse_key(&text)
            .map(SecretBox::new)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
            let mut key = [0u8; 32];
            getrandom(&mut key)?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            match opts.open(&path) {
                Ok(mut f) => {
                    f.write_all(SecretBox::encode_key(&key).as_bytes())?;
                    f.sync_all()?;
                    Ok(SecretBox::new(key))
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    secret_box(global, data_dir)
                }
                Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
            }
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn getrandom(buf: &mut [u8]) -> Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("cannot read random bytes")
}

async fn open(global: &Global, data_dir: &Path) -> Result<App> {
    let secrets = secret_box(global, data_dir)?;
    let url = database_url(global, data_dir)?;
    let store = Store::open(&url)
        .await
        .with_context(|| format!("cannot open the database in {}", data_dir.display()))?;
    Ok(App::new(
        store,
        ServiceConfig {
            secrets,
            index_dir: Some(data_dir.join("index")),
            ..ServiceConfig::default()
        },
    ))
}

fn read_password_line() -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password: ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        bail!("no password on standard input (line 1 is empty)");
    }
    Ok(pw)
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

async fn run(cli: Cli) -> Result<()> {
    let default_dir = || {
        cli.global
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("switchboard-data"))
    };
    match cli.command {
        Command::Serve(args) => {
            let dir = default_dir();
            let app = open(&cli.global, &dir).await?;
            serve(app, args).await
        }
        Command::Demo(args) => {
            let dir = match &cli.global.data_dir {
                Some(d) => d.clone(),
                None => fresh_demo_dir()?,
            };
            let app = open(&cli.global, &dir).await?;
            let users = app.seed_demo().await.map_err(explain)?;
            let url = format!("http://{}", args.bind);
            println!("Switchboard demo: {url}  (data dir: {})", dir.display());
            println!("Organisation \"Acme\": Acme Global (centre of excellence) with children Acme DE and Acme KR.");
            println!();
            println!("{:<28} {:<18} {:<30} ROLE", "E-MAIL", "PASSWORD", "NAME");
            for u in &users {
                println!(
                    "{:<28} {:<18} {:<30} {}",
                    u.email, u.password, u.name, u.role
                );
            }
            println!();
            std::io::stdout().flush().ok();
            serve(app, args).await
        }
        Command::Migrate => {
            let dir = default_dir();
            let url = database_url(&cli.global, &dir)?;
            let store = Store::connect(&url)
                .await
                .context("cannot connect to the database")?;
            let applied = store.migrate().await.context("migration failed")?;
            eprintln!(
                "migrations applied: {} ({} backend)",
                if applied.is_empty() {
                    "none pending".to_string()
                } else {
                    format!("{applied:?}")
                },
                store.backend().as_str()
            );
            Ok(())
        }
        Command::User(UserCmd::Add {
            email,
            org,
            name,
            owner,
            password_stdin: _,
        }) => {
            let password = read_password_line()?;
            let app = open(&cli.global, &default_dir()).await?;
            let (user, org_created) = app
                .cli_add_user(&org, &email, name.as_deref(), &password, owner)
                .await
                .map_err(explain)?;
            if org_created {
                eprintln!("created organisation {org}");
            }
            eprintln!(
                "user {} ready in organisation {org}{}",
                user.email,
                if owner { " as owner" } else { "" }
            );
            print_json(&user)
        }
        Command::Token(TokenCmd::Create { email, name }) => {
            let app = open(&cli.global, &default_dir()).await?;
            let user = app.user_by_email(&email).await.map_err(|e| match e {
                ServiceError::NotFound => {
                    anyhow::anyhow!("email: no user with e-mail address {email}")
                }
                e => explain(e),
            })?;
            let (token, secret) = app.create_token(&user, &name).await.map_err(explain)?;
            eprintln!(
                "token {:?} created for {}; it is shown only now:",
                token.name, user.email
            );
            println!("{secret}");
            Ok(())
        }
        Command::Workspace(WorkspaceCmd::Add {
            org,
            name,
            slug,
            parent,
        }) => {
            let app = open(&cli.global, &default_dir()).await?;
            let w = app
                .create_workspace(
                    &Actor::Cli,
                    CreateWorkspace {
                        org: Some(org),
                        name,
                        slug,
                        parent,
                    },
                )
                .await
                .map_err(explain)?;
            eprintln!(
                "created workspace {}/{} ({})",
                w.org.slug, w.workspace.slug, w.workspace.id
            );
            print_json(&w.workspace)
        }
        Command::Workspace(WorkspaceCmd::List) => {
            let app = open(&cli.global, &default_dir()).await?;
            for w in app.list_workspaces(&Actor::Cli).await.map_err(explain)? {
                println!(
                    "{}",
                    serde_json::json!({"id": w.workspace.id, "org": w.org.slug, "slug": w.workspace.slug, "name": w.workspace.name, "parent_id": w.workspace.parent_id})
                );
            }
            Ok(())
        }
        Command::Team(TeamCmd::Add {
            workspace,
            name,
            function,
        }) => {
            let app = open(&cli.global, &default_dir()).await?;
            let t = app
                .create_team(&Actor::Cli, &workspace, CreateTeam { name, function })
                .await
                .map_err(explain)?;
            eprintln!("created team {} ({}) in {workspace}", t.name, t.function);
            print_json(&t)
        }
        Command::Import(args) => {
            let app = open(&cli.global, &default_dir()).await?;
            import(&app, args).await
        }
        Command::Analyze => analyze(&switchboard_enrich::Enricher::new()),
        Command::Search(args) => {
            let app = open(&cli.global, &default_dir()).await?;
            let result = search(&app, args).await;
            app.release_index_writer();
            result
        }
        Command::Reindex => {
            let app = open(&cli.global, &default_dir()).await?;
            reindex(&app).await
        }
        Command::Source(SourceCmd::Add {
            workspace,
            name,
            format,
        }) => {
            let app = open(&cli.global, &default_dir()).await?;
            let (source, secret) = app
                .create_ingest_source(&Actor::Cli, &workspace, &name, &format)
                .await
                .map_err(explain)?;
            eprintln!(
                "source {} created; deliveries go to POST /api/v1/workspaces/{}/ingest/{}, signed with this secret (shown only now):",
                source.name, source.workspace_id, source.name
            );
            println!("{secret}");
            Ok(())
        }
        Command::Bench(BenchCmd::Ingest { items }) => {
            let dir = match &cli.global.data_dir {
                Some(d) => d.clone(),
                None => fresh_demo_dir()?,
            };
            let app = open(&cli.global, &dir).await?;
            bench::ingest(&app, items, &dir).await
        }
        Command::Bench(BenchCmd::Inbox {
            items,
            conversations,
            runs,
        }) => {
            let dir = match &cli.global.data_dir {
                Some(d) => d.clone(),
                None => fresh_demo_dir()?,
            };
            let app = open(&cli.global, &dir).await?;
            crate::bench_inbox::inbox(&app, items, conversations, runs).await
        }
        Command::Bench(BenchCmd::Listen { items, runs, dir }) => {
            crate::bench_listen::listen(items, runs, dir.as_deref())
        }
        Command::Member(MemberCmd::Add {
            workspace,
            email,
            role,
            name,
            team,
            password_stdin,
        }) => {
            let password = if password_stdin {
                Some(read_password_line()?)
            } else {
                None
            };
            let app = open(&cli.global, &default_dir()).await?;
            let m = app
                .add_member(
                    &Actor::Cli,
                    &workspace,
                    AddMember {
                        email: email.clone(),
                        role,
                        name,
                        password,
                    },
                )
                .await
                .map_err(explain)?;
            if let Some(team) = team {
                app.add_team_member(
                    &Actor::Cli,
                    &workspace,
                    &team,
                    AddTeamMember { user: email },
                )
                .await
                .map_err(explain)?;
                eprintln!("added {} to team {team}", m.email);
            }
            eprintln!("{} is now {} in {workspace}", m.email, m.role);
            print_json(&m)
        }
    }
}

async fn import(app: &App, args: ImportArgs) -> Result<()> {
    let format = switchboard_service::ingest::format_from(
        &args.format,
        args.map.as_deref(),
        args.network.as_deref(),
        args.account.as_deref(),
    )
    .map_err(explain)?;
    let (reader, total): (Box<dyn std::io::BufRead + Send>, Option<u64>) = if args.file == "-" {
        (
            Box::new(std::io::BufReader::with_capacity(1 << 20, std::io::stdin())),
            None,
        )
    } else {
        let f = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(std::io::BufReader::with_capacity(1 << 20, f)), len)
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = match total {
            Some(t) => indicatif::ProgressBar::new(t),
            None => indicatif::ProgressBar::new_spinner(),
        };
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec}  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let progress_bar = bar.clone();
    let report = app
        .import(
            &Actor::Cli,
            &args.workspace,
            reader,
            format,
            ImportOptions {
                strict: args.strict,
            },
            move |r| {
                progress_bar.set_position(r.bytes);
                let rate = r.records as f64 / started.elapsed().as_secs_f64().max(1e-3);
                progress_bar.set_message(format!(
                    "{} records ({rate:.0}/s): {} new, {} updated, {} unchanged, {} rejected",
                    r.records, r.imported, r.updated, r.unchanged, r.rejected
                ));
            },
        )
        .await
        .map_err(explain)?;
    bar.finish_and_clear();
    for e in &report.errors {
        eprintln!("record {}: {}", e.record, e.reason);
    }
    if report.rejected as usize > report.errors.len() {
        eprintln!(
            "... and {} more rejected records",
            report.rejected as usize - report.errors.len()
        );
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} records in {secs:.1} s ({:.0}/s): {} imported, {} updated, {} unchanged, {} skipped, {} rejected{}",
        report.records,
        report.records as f64 / secs.max(1e-3),
        report.imported,
        report.updated,
        report.unchanged,
        report.skipped,
        report.rejected,
        if report.rolled_back { " -- strict: nothing was written" } else { "" }
    );
    print_json(&report)?;
    if report.rejected > 0 {
        bail!("{} record(s) rejected", report.rejected);
    }
    Ok(())
}

/// One line in, one line out; a bad line is reported with its number and the rest go on.
fn analyze(enricher: &switchboard_enrich::Enricher) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Input {
        id: serde_json::Value,
        text: String,
        #[serde(default)]
        lang: Option<String>,
    }
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut bad = 0u64;
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.context("cannot read standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Input>(&line) {
            Ok(input) => {
                let a = enricher.analyze(&input.text, input.lang.as_deref());
                let v = serde_json::json!({"id": input.id, "lang": a.lang, "sentiment": a.sentiment, "intents": a.intents});
                serde_json::to_writer(&mut out, &v)?;
                out.write_all(b"\n")?;
            }
            Err(e) => {
                bad += 1;
                eprintln!("line {}: {e}", i + 1);
            }
        }
    }
    out.flush()?;
    if bad > 0 {
        bail!("{bad} line(s) could not be read");
    }
    Ok(())
}

/// A query syntax error names the column, as the terminal shows it.
fn explain_query(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::QuerySyntax {
            position, message, ..
        } => anyhow::anyhow!("query: column {position}: {message}"),
        other => explain(other),
    }
}

async fn search(app: &App, args: SearchArgs) -> Result<()> {
    // Parse first: a typo should not wait for the index to catch up.
    switchboard_service::listening::check_query("q", &args.query).map_err(explain_query)?;
    // Catches the index up when no server holds it (a server keeps it current itself).
    let sync = app.sync_index().await.map_err(explain)?;
    if sync.indexed > 0 {
        eprintln!("indexed {} new or changed item(s)", sync.indexed);
    }
    if args.format == "count" {
        let n = app
            .search_count(&Actor::Cli, &args.workspace, &args.query)
            .await
            .map_err(explain_query)?;
        println!("{n}");
        return Ok(());
    }
    let limit = args.limit.max(1);
    let mut printed = 0usize;
    let mut cursor: Option<String> = None;
    let mut total = 0;
    let mut all = Vec::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    while printed < limit {
        let page = app
            .search(
                &Actor::Cli,
                &args.workspace,
                &args.query,
                (limit - printed).min(500),
                cursor.as_deref(),
            )
            .await
            .map_err(explain_query)?;
        total = page.total;
        for hit in page.items {
            printed += 1;
            let item = &hit.item;
            let line = serde_json::json!({
                "id": item.id,
                "network": item.network,
                "external_id": item.external_id,
                "kind": item.kind,
                "created_at": item.created_at,
                "lang": item.lang,
                "author": item.author.handle,
                "sentiment": item.sentiment.label,
                "intents": item.intents,
                "url": item.url,
                "text": item.text,
            });
            if args.format == "json" {
                all.push(line);
            } else {
                writeln!(out, "{line}")?;
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    if args.format == "json" {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "total": total, "items": all })
        )?;
    }
    out.flush()?;
    eprintln!("{printed} of {total} matching item(s)");
    Ok(())
}

async fn reindex(app: &App) -> Result<()> {
    // A spinner with the running count on a terminal; nothing when output is piped.
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {pos} items indexed",
        ) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    match app
        .reindex({
            let bar = bar.clone();
            move |n| {
                bar.set_position(n);
            }
        })
        .await
    {
        Ok(r) => {
            bar.finish_and_clear();
            app.release_index_writer();
            eprintln!(
                "reindexed {} item(s) in {:.1} s ({:.0} items/s)",
                r.items,
                r.seconds,
                r.items as f64 / r.seconds.max(1e-9)
            );
            Ok(())
        }
        Err(ServiceError::Conflict { .. }) => {
            bar.finish_and_clear();
            // A server holds the index: it rebuilds it as a background job.
            let id = app.request_reindex().await.map_err(explain)?;
            eprintln!("a server is using this data dir; it is rebuilding the index (job {id})");
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                match app.job_done(&id).await.map_err(explain)? {
                    Some(Ok(())) => {
                        eprintln!(
                            "the server rebuilt the index in {:.1} s",
                            started.elapsed().as_secs_f64()
                        );
                        return Ok(());
                    }
                    Some(Err(e)) => bail!("the server could not rebuild the index: {e}"),
                    None => {}
                }
            }
        }
        Err(e) => {
            bar.finish_and_clear();
            Err(explain(e))
        }
    }
}

fn fresh_demo_dir() -> Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("switchboard-demo-{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

async fn serve(mut app: App, args: ServeArgs) -> Result<()> {
    app.config.poll_interval = std::time::Duration::from_secs(args.poll_interval.max(5));
    let config = ServerConfig {
        bind: args.bind,
        secure_cookies: args.secure_cookies,
        trust_proxy: args.trust_proxy,
    };
    let server = Application::build(app.clone(), config)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    eprintln!(
        "listening on http://{} ({} store)",
        server.local_addr(),
        app.store.backend().as_str()
    );
    // Live channels are polled beside the server; each poll is claimed with a lease, so
    // several servers on one PostgreSQL share the work without polling a channel twice.
    let poller = tokio::spawn({
        let app = app.clone();
        async move {
            loop {
                if let Err(e) = app.poll_due().await {
                    tracing::warn!(error = %e, "channel polling failed");
                }
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        }
    });
    // Background jobs (outbound webhook deliveries, ...): each is claimed with a lease, so
    // several servers on one PostgreSQL share them without running one twice.
    let worker = tokio::spawn({
        let app = app.clone();
        async move {
            loop {
                if let Err(e) = app.run_due_jobs().await {
                    tracing::warn!(error = %e, "running background jobs failed");
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    });
    // The search index follows the store's change log, so items written by any process
    // (an import from the command line, another server) are searchable within a second.
    let indexer = tokio::spawn({
        let app = app.clone();
        async move {
            loop {
                if let Err(e) = app.sync_index().await {
                    tracing::warn!(error = %e, "search index update failed");
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    });
    // The inbox router follows the same change log: new items join their conversations and
    // new conversations are routed to the team that should answer.
    let router = tokio::spawn({
        let app = app.clone();
        async move {
            loop {
                if let Err(e) = app.route_new_items().await {
                    tracing::warn!(error = %e, "inbox routing failed");
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    });
    // Spike detection over every topic; a spike found again is the same alert.
    let scanner = tokio::spawn({
        let app = app.clone();
        async move {
            loop {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                match app.scan_spikes(now).await {
                    Ok(r) if r.new_spikes > 0 => {
                        tracing::info!(spikes = r.new_spikes, "new listening spikes");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "spike scan failed"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            }
        }
    });
    let served = server
        .run_with_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("shutting down");
        })
        .await
        .context("server failed");
    poller.abort();
    worker.abort();
    indexer.abort();
    router.abort();
    scanner.abort();
    app.store.close().await;
    served
}
