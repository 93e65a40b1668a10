//! A real browser for end-to-end tests: Debian's headless Chromium driven
//! over WebDriver by `chromedriver` (packages `chromium` and
//! `chromium-driver`) through the `fantoccini` client.
//!
//! The tests are plain `#[test]` functions like the rest of the suite, so
//! [`Browser`] keeps a small tokio runtime of its own and every call
//! blocks. Each `Browser` has its own chromedriver on a free loopback port
//! and its own temporary Chromium profile, so tests running in parallel
//! share nothing (cookies included). chromedriver's log (and Chromium's
//! output through it) goes to a file in that temporary directory, and its
//! tail is put into the error of a failed start and printed when a test
//! panics with the browser open, where the cause of a flaky failure
//! usually is.

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs them; `ROOKERY_CHROMIUM` / `ROOKERY_CHROMEDRIVER`
/// override for another system.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// How long chromedriver and a new browser session may take to start on
/// a loaded two-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The default wait of [`Browser::wait_for`] callers that have no reason
/// to choose their own.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// One headless Chromium session and the chromedriver that runs it.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    /// `None` only while closing.
    client: Option<Client>,
    driver: Child,
    log: PathBuf,
    /// The Chromium profile and chromedriver's log; removed on drop.
    _dir: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and opens a headless Chromium window of
    /// 1280x900 (a laptop screen, for screenshots).
    pub fn start() -> anyhow::Result<Browser> {
        let dir = tempfile::Builder::new().prefix("rookery-browser-").tempdir()?;
        let log = dir.path().join("chromedriver.log");
        let port = free_port()?;
        let binary = std::env::var("ROOKERY_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_owned());
        let driver = Command::new(&binary)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            // Only the test (this process) may drive it.
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {binary} (Debian package chromium-driver)"))?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let mut browser = Browser { runtime, client: None, driver, log, _dir: dir };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if let Err(e) = wait_listening(addr, &mut browser.driver) {
            bail!("{e:#}\n--- chromedriver log\n{}", browser.log_tail());
        }
        let profile = browser._dir.path().join("profile");
        let client = browser.runtime.block_on(connect(addr, &profile));
        match client {
            Ok(client) => browser.client = Some(client),
            Err(e) => bail!("{e:#}\n--- chromedriver log\n{}", browser.log_tail()),
        }
        Ok(browser)
    }

    fn client(&self) -> anyhow::Result<&Client> {
        self.client.as_ref().context("the browser session is closed")
    }

    /// Runs one WebDriver call on the browser's runtime.
    fn run<T>(&self, call: impl AsyncFnOnce(&Client) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let client = self.client()?;
        self.runtime.block_on(call(client))
    }

    /// Loads `url` and waits for the page to load.
    pub fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.run(async |c| c.goto(url).await.with_context(|| format!("loading {url}")))
    }

    /// The address of the page now shown (after any redirects).
    pub fn current_url(&self) -> anyhow::Result<String> {
        self.run(async |c| Ok(c.current_url().await.context("reading the URL")?.to_string()))
    }

    /// Replaces the value of the first element matching `css` with `text`
    /// (typed, as a person would).
    pub fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.run(async |c| {
            let element = c.find(Locator::Css(css)).await.with_context(|| format!("no element {css}"))?;
            element.clear().await.with_context(|| format!("clearing {css}"))?;
            element.send_keys(text).await.with_context(|| format!("typing into {css}"))
        })
    }

    /// Chooses files for `input[type=file]` `css` (absolute paths).
    pub fn attach(&self, css: &str, path: &Path) -> anyhow::Result<()> {
        let path = path.to_str().context("a file path that is not UTF-8")?;
        self.run(async |c| {
            let element = c.find(Locator::Css(css)).await.with_context(|| format!("no element {css}"))?;
            element.send_keys(path).await.with_context(|| format!("choosing {path} in {css}"))
        })
    }

    /// Chooses the option with value `value` in the `<select>` `css`.
    pub fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.run(async |c| {
            let element = c.find(Locator::Css(css)).await.with_context(|| format!("no element {css}"))?;
            element.select_by_value(value).await.with_context(|| format!("choosing {value} in {css}"))
        })
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) -> anyhow::Result<()> {
        self.run(async |c| {
            let element = c.find(Locator::Css(css)).await.with_context(|| format!("no element {css}"))?;
            element.click().await.with_context(|| format!("clicking {css}"))
        })
    }

    /// The rendered text of the first element matching `css`.
    pub fn text(&self, css: &str) -> anyhow::Result<String> {
        self.run(async |c| {
            let element = c.find(Locator::Css(css)).await.with_context(|| format!("no element {css}"))?;
            element.text().await.with_context(|| format!("reading the text of {css}"))
        })
    }

    /// The rendered text of every element matching `css`, in page order.
    pub fn texts(&self, css: &str) -> anyhow::Result<Vec<String>> {
        self.run(async |c| {
            let mut texts = Vec::new();
            for element in c.find_all(Locator::Css(css)).await.with_context(|| format!("finding {css}"))? {
                texts.push(element.text().await.with_context(|| format!("reading the text of {css}"))?);
            }
            Ok(texts)
        })
    }

    /// An attribute of the first element matching `css` (`None`: not set).
    pub fn attribute(&self, css: &str, name: &str) -> anyhow::Result<Option<String>> {
        self.run(async |c| {
            let element = c.find(Locator::Css(css)).await.with_context(|| format!("no element {css}"))?;
            element.attr(name).await.with_context(|| format!("reading {name} of {css}"))
        })
    }

    /// How many elements match `css` now (no waiting).
    pub fn count(&self, css: &str) -> anyhow::Result<usize> {
        self.run(async |c| Ok(c.find_all(Locator::Css(css)).await.with_context(|| format!("finding {css}"))?.len()))
    }

    /// Waits until an element matches `css`, polling; the error names the
    /// page it was still on.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.count(css)? > 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let url = self.current_url().unwrap_or_default();
                bail!("no element {css} after {timeout:?} on {url}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `check` (run between polls, e.g. reloading the page and
    /// reading it) answers `Some`.
    pub fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Browser) -> anyhow::Result<Option<T>>,
    ) -> anyhow::Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check(self)? {
                return Ok(value);
            }
            if Instant::now() >= deadline {
                let url = self.current_url().unwrap_or_default();
                bail!("timed out after {timeout:?} waiting for {what} (on {url})");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The browser's cookies for the page now shown: (name, value).
    pub fn cookies(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.run(async |c| {
            let cookies = c.get_all_cookies().await.context("reading cookies")?;
            Ok(cookies.iter().map(|cookie| (cookie.name().to_owned(), cookie.value().to_owned())).collect())
        })
    }

    /// Sets a cookie (path `/`, SameSite=Lax) for the host of the page now
    /// shown, replacing one of the same name (forged-cookie tests).
    pub fn set_cookie(&self, name: &str, value: &str) -> anyhow::Result<()> {
        self.run(async |c| {
            let url = c.current_url().await.context("reading the URL")?;
            let host = url.host_str().context("the page has no host to set a cookie for")?.to_owned();
            // chromedriver refuses a cookie without a domain, and Chromium
            // one with SameSite=None that is not Secure.
            let text = format!("{name}={value}; Domain={host}; Path=/; SameSite=Lax");
            let cookie = fantoccini::cookies::Cookie::parse(text).context("not a cookie")?;
            c.add_cookie(cookie).await.context("setting a cookie")
        })
    }

    /// Saves a PNG of the visible page to `path` (directories made).
    pub fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let png = self.run(async |c| c.screenshot().await.context("taking a screenshot"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Runs `script` in the page (`arguments[i]` are `args`) and returns
    /// what it returns.
    pub fn execute(&self, script: &str, args: Vec<serde_json::Value>) -> anyhow::Result<serde_json::Value> {
        self.run(async |c| c.execute(script, args).await.context("running a script"))
    }

    /// The page's HTML as the browser has it now.
    pub fn source(&self) -> anyhow::Result<String> {
        self.run(async |c| c.source().await.context("reading the page source"))
    }

    /// The last lines of chromedriver's log (which has Chromium's errors).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut err = std::io::stderr();
            let _ = writeln!(err, "--- chromedriver log (tail)\n{}", self.log_tail());
        }
        // Ends the session, which quits Chromium; bounded, since a wedged
        // browser must not hang the test run.
        if let Some(client) = self.client.take() {
            let _ =
                self.runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), client.close()).await });
        }
        // chromedriver is ours alone: killed by its PID.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The session's capabilities: headless Chromium that runs as root in CI.
/// `--no-sandbox`: Chromium's sandbox refuses to start as root;
/// `--disable-dev-shm-usage`: containers often have a tiny /dev/shm.
fn capabilities(profile: &Path) -> serde_json::Map<String, serde_json::Value> {
    let binary = std::env::var("ROOKERY_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=1280,900".to_owned(),
        "--no-first-run".to_owned(),
        "--no-default-browser-check".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let options = serde_json::json!({ "binary": binary, "args": args });
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "chrome".into());
    caps.insert("goog:chromeOptions".into(), options);
    caps
}

async fn connect(addr: SocketAddr, profile: &Path) -> anyhow::Result<Client> {
    let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
    builder.capabilities(capabilities(profile));
    let session = tokio::time::timeout(START_TIMEOUT, builder.connect(&format!("http://{addr}")))
        .await
        .context("chromedriver did not open a Chromium session in time")?;
    session.context("opening a Chromium session (Debian package chromium)")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until chromedriver accepts connections, or fails if it exits.
fn wait_listening(addr: SocketAddr, driver: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = driver.try_wait()? {
            bail!("chromedriver exited at start ({status})");
        }
        if Instant::now() >= deadline {
            bail!("chromedriver did not listen on {addr} within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests;
