//! Screenshots of the pictures the lessons draw (`book/src/figures/`), for
//! a reviewer's eyes: with `book --check --screenshots DIR`, each one as
//! the book shows it, in the light theme and in a dark one (`coal`) at
//! 1280 px, and on a 390-px phone, saved as
//! `DIR/pictures/NAME-{light,dark}-{1280,390}px.png`.
//!
//! A picture is an `<img>`: it cannot see the page's theme, so it brings
//! its own opaque background; the dark screenshot shows it on the dark page.

use std::path::{Path, PathBuf};

use super::cdp::{Browser, base64_decode};
use super::check::{evaluate, navigate};
use serde_json::Value;

/// The page widths and themes each picture is shot in.
const VIEWS: [(&str, u32, bool); 3] = [
    ("light", 1280, false),
    ("coal", 1280, false),
    ("light", 390, true),
];

/// Where each lesson-drawn picture of the page is, in page coordinates,
/// after the theme is switched by the class on `<html>` (as mdBook's theme
/// menu does).
fn locate(theme: &str) -> String {
    format!(
        r#"(async () => {{
  const html = document.documentElement;
  html.classList.remove('light', 'rust', 'coal', 'navy', 'ayu');
  html.classList.add('{theme}');
  const images = [...document.querySelectorAll('main img')]
    .filter(i => (i.getAttribute('src') || '').includes('figures/'))
    .filter(i => !i.closest('.img-wrapper'));
  for (const img of images) {{ if (!img.complete) await img.decode().catch(() => {{}}); }}
  const found = images.map(img => {{
    const r = img.getBoundingClientRect();
    return {{ src: img.getAttribute('src'), x: r.left + scrollX, y: r.top + scrollY,
             width: r.width, height: r.height }};
  }});
  return JSON.stringify({{ pictures: found }});
}})()"#
    )
}

/// Shoots every lesson-drawn picture on `pages` in every view of [`VIEWS`]
/// into `dir/pictures`; returns the files written.
pub fn shoot(
    browser: &mut Browser,
    session: &str,
    base: &str,
    pages: &[String],
    dir: &Path,
) -> Result<Vec<PathBuf>, String> {
    let out = dir.join("pictures");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot make {}: {e}", out.display()))?;
    let mut files = Vec::new();
    for (theme, width, mobile) in VIEWS {
        let metrics = serde_json::json!({
            "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile,
        })
        .to_string();
        browser.call(
            Some(session),
            "Emulation.setDeviceMetricsOverride",
            &metrics,
        )?;
        for page in pages {
            navigate(browser, session, &format!("{base}{page}"))?;
            let found = evaluate(browser, session, &locate(theme))?;
            for picture in found
                .get("pictures")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let number = |key: &str| picture.get(key).and_then(Value::as_f64).unwrap_or(0.0);
                let src = picture
                    .get("src")
                    .and_then(Value::as_str)
                    .unwrap_or("picture");
                let stem = src
                    .rsplit('/')
                    .next()
                    .unwrap_or(src)
                    .trim_end_matches(".svg");
                let shade = if theme == "light" { "light" } else { "dark" };
                let file = out.join(format!("{stem}-{shade}-{width}px.png"));
                // A margin of the page around the picture shows its theme.
                let margin = 16.0;
                let clip = format!(
                    r#"{{"format":"png","captureBeyondViewport":true,"clip":{{"x":{},"y":{},"width":{},"height":{},"scale":1}}}}"#,
                    (number("x") - margin).max(0.0),
                    (number("y") - margin).max(0.0),
                    (number("width") + 2.0 * margin).clamp(1.0, 4000.0),
                    (number("height") + 2.0 * margin).clamp(1.0, 16000.0)
                );
                let shot = browser.call(Some(session), "Page.captureScreenshot", &clip)?;
                let data = shot
                    .get("data")
                    .and_then(Value::as_str)
                    .ok_or("Chromium sent no screenshot")?;
                std::fs::write(&file, base64_decode(data)?)
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                files.push(file);
            }
        }
    }
    Ok(files)
}
