//! What the Chromium tests share: finding the browser and saving full-page screenshots for a
//! human to look at (`target/screenshots/`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use headless_chrome::protocol::cdp::Page;
use headless_chrome::{Browser, LaunchOptions, Tab};

use crate::helpers::manifest_dir;

/// An error of a browser step.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The Chromium binary: `HELSESIM_CHROMIUM`, else Debian's or Ubuntu's usual path.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("HELSESIM_CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "HELSESIM_CHROMIUM={} is not a file",
            path.display()
        );
        return Some(path);
    }
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.is_file());
    // On a laptop a missing browser skips the browser tests; in CI (which installs Chromium)
    // it is a failure, so that a broken install cannot turn them into silent passes.
    assert!(
        found.is_some() || !in_ci(),
        "CI is set but no Chromium was found (/usr/bin/chromium, /usr/bin/chromium-browser or \
         HELSESIM_CHROMIUM): .ci/run installs Debian's chromium package"
    );
    found
}

/// Whether the tests run in CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Headless Chromium with a fresh profile (kept as long as the returned folder lives) and a
/// window of `window` pixels; it gives up after `idle` without a command, a step after `step`.
pub fn launch(
    chromium: &Path,
    window: (u32, u32),
    idle: Duration,
    step: Duration,
) -> Result<(Browser, tempfile::TempDir), BoxError> {
    let profile = tempfile::tempdir()?;
    let options = LaunchOptions::default_builder()
        .path(Some(chromium.to_owned()))
        .headless(true)
        // CI may run as root, where Chromium's sandbox cannot start.
        .sandbox(false)
        .user_data_dir(Some(profile.path().to_owned()))
        .window_size(Some(window))
        // headless_chrome already passes --disable-gpu, --disable-background-networking,
        // --disable-sync and --no-first-run; the network may be closed: nothing else goes out.
        .args(vec![
            OsStr::new("--disable-quic"),
            OsStr::new("--disable-component-update"),
        ])
        .idle_browser_timeout(idle)
        .build()?;
    let browser = Browser::new(options).map_err(|e| format!("launching {chromium:?}: {e}"))?;
    browser.set_default_timeout(step);
    Ok((browser, profile))
}

/// Where the screenshot `name` is saved.
pub fn screenshot_path(name: &str) -> PathBuf {
    manifest_dir().join("target/screenshots").join(name)
}

/// Saves the whole page (not just the window) as a PNG at `path`.
pub fn save_full_page_screenshot(tab: &Arc<Tab>, path: &Path) -> Result<(), BoxError> {
    let metrics = tab.call_method(Page::GetLayoutMetrics(None))?;
    let size = metrics.css_content_size;
    let png = tab
        .call_method(Page::CaptureScreenshot {
            format: Some(Page::CaptureScreenshotFormatOption::Png),
            quality: None,
            clip: Some(Page::Viewport {
                x: 0.0,
                y: 0.0,
                width: size.width,
                height: size.height,
                scale: 1.0,
            }),
            from_surface: Some(true),
            capture_beyond_viewport: Some(true),
            optimize_for_speed: None,
        })?
        .data;
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD.decode(png)?;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::create_dir_all(path.parent().ok_or("no folder")?)?;
    std::fs::write(path, png)?;
    Ok(())
}

/// Runs the blocking browser part `drive` on its own thread while this runtime goes on serving
/// the app in-process; fails when it takes over `limit` or fails. Its result.
pub async fn run_browser_part<T: Send + 'static>(
    limit: Duration,
    drive: impl FnOnce() -> Result<T, BoxError> + Send + 'static,
) -> T {
    let started = std::time::Instant::now();
    let browser_part = std::thread::spawn(drive);
    while !browser_part.is_finished() {
        assert!(
            started.elapsed() < limit,
            "the browser part took over {limit:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    match browser_part.join() {
        Ok(result) => result.unwrap_or_else(|e| panic!("in Chromium: {e}")),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
