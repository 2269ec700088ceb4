//! The book's figures on a phone: every SVG figure's text, as a 390-pixel
//! wide screen shows it, is at least [`MIN_PX`] pixels tall.
//!
//! A figure is an `<img>` of a hand-written SVG, scaled to its column: its
//! text shows at font size × rendered width ÷ viewBox width. The page is
//! opened at a 390-px-wide mobile viewport, the figure's rendered width read
//! from the page, and its SVG fetched and laid out again at its own size
//! (one user unit, one pixel) in a shadow root, away from the page's
//! styles, so that every text's font size is the one the SVG really
//! computes (inherited, from CSS in the SVG, or scaled by a transform).

use std::path::Path;

use super::cdp::Browser;
use super::check::{evaluate, navigate, screenshot};
use serde_json::Value;

/// The smallest text a figure may show on a phone, in CSS pixels.
pub const MIN_PX: f64 = 9.0;

/// The phone: an iPhone-sized viewport, as a mobile browser lays it out.
const PHONE: &str = r#"{"width":390,"height":844,"deviceScaleFactor":1,"mobile":true}"#;

/// Measures every SVG figure of the page (see the module documentation).
const MEASURE: &str = r#"(async () => {
  const figures = [];
  // Not mdBook's zoomed copy of a figure, shown only when it is tapped.
  const images = [...document.querySelectorAll('main img')]
    .filter(i => /\.svg([?#]|$)/.test(i.getAttribute('src') || ''))
    .filter(i => !i.closest('.img-wrapper'));
  for (const img of images) {
    const src = img.getAttribute('src');
    const rendered = img.getBoundingClientRect().width;
    let source;
    try {
      const answer = await fetch(img.currentSrc || img.src, { cache: 'no-store' });
      source = await answer.text();
    } catch (e) {
      figures.push({ src, error: 'cannot fetch it: ' + e });
      continue;
    }
    const svg = new DOMParser().parseFromString(source, 'image/svg+xml').documentElement;
    if (svg.nodeName !== 'svg') {
      figures.push({ src, error: 'it is not an SVG document' });
      continue;
    }
    const box = (svg.getAttribute('viewBox') || '').trim().split(/[\s,]+/).map(Number);
    const width = box.length === 4 && box[2] > 0 ? box[2] : parseFloat(svg.getAttribute('width'));
    const height = box.length === 4 && box[3] > 0 ? box[3] : parseFloat(svg.getAttribute('height'));
    if (!(width > 0)) {
      figures.push({ src, error: 'it has neither a viewBox nor a width' });
      continue;
    }
    const host = document.createElement('div');
    host.style.cssText = 'position:absolute;left:-100000px;top:0;visibility:hidden';
    document.body.appendChild(host);
    const copy = document.importNode(svg, true);
    copy.setAttribute('width', width);
    if (height > 0) copy.setAttribute('height', height);
    host.attachShadow({ mode: 'open' }).appendChild(copy);
    const texts = [];
    for (const el of copy.querySelectorAll('text, tspan, textPath')) {
      const own = [...el.childNodes].filter(n => n.nodeType === 3)
        .map(n => n.textContent).join('').trim();
      if (!own) continue;
      const m = el.getCTM();
      const scale = m ? Math.sqrt(Math.abs(m.a * m.d - m.b * m.c)) : 1;
      const size = parseFloat(getComputedStyle(el).fontSize) * scale;
      texts.push({ text: own, size, px: size * rendered / width });
    }
    host.remove();
    figures.push({ src, rendered, width, texts });
  }
  return JSON.stringify({ figures });
})()"#;

/// The pages of the built book that show an SVG figure.
pub fn pages_with_figures(built: &Path, pages: &[String]) -> Vec<String> {
    pages
        .iter()
        .filter(|page| {
            let html = std::fs::read_to_string(built.join(page)).unwrap_or_default();
            html.split("<img ").skip(1).any(|tag| {
                let tag = format!(" {}", tag.split('>').next().unwrap_or_default());
                tag.split(" src=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .is_some_and(|src| src.ends_with(".svg"))
            })
        })
        .cloned()
        .collect()
}

/// Opens each of `pages` at the phone's width and returns its problems
/// (page, problem), saving a screenshot at that width of each page with a
/// problem, or of every page when `shoot_every_page`.
pub fn check_on_a_phone(
    browser: &mut Browser,
    session: &str,
    base: &str,
    pages: &[String],
    shots: &Path,
    shoot_every_page: bool,
) -> Result<Vec<(String, String)>, String> {
    browser.call(Some(session), "Emulation.setDeviceMetricsOverride", PHONE)?;
    let mut problems = Vec::new();
    for page in pages {
        navigate(browser, session, &format!("{base}{page}"))?;
        let measured = evaluate(browser, session, MEASURE)?;
        let found = judge(&measured);
        if !found.is_empty() || shoot_every_page {
            let shot = format!("{}-390px.html", page.trim_end_matches(".html"));
            if let Err(e) = screenshot(browser, session, shots, &shot) {
                problems.push((page.clone(), format!("no screenshot at 390 px: {e}")));
            }
        }
        problems.extend(found.into_iter().map(|p| (page.clone(), p)));
    }
    Ok(problems)
}

/// The problems in one page's measurements: one per figure whose smallest
/// text is under [`MIN_PX`], naming that text and how many more there are.
fn judge(measured: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for figure in measured
        .get("figures")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let src = figure.get("src").and_then(Value::as_str).unwrap_or("?");
        if let Some(error) = figure.get("error").and_then(Value::as_str) {
            problems.push(format!("the figure {src} cannot be measured: {error}"));
            continue;
        }
        let number = |key: &str| figure.get(key).and_then(Value::as_f64).unwrap_or(0.0);
        let (rendered, width) = (number("rendered"), number("width"));
        if rendered < 1.0 {
            problems.push(format!("the figure {src} is not shown on a 390-px screen"));
            continue;
        }
        let small: Vec<(&str, f64, f64)> = figure
            .get("texts")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|t| {
                let px = t.get("px").and_then(Value::as_f64)?;
                let size = t.get("size").and_then(Value::as_f64)?;
                Some((t.get("text").and_then(Value::as_str)?, size, px))
            })
            .filter(|&(_, _, px)| px < MIN_PX)
            .collect();
        let Some(&(text, size, px)) = small.iter().min_by(|a, b| a.2.total_cmp(&b.2)) else {
            continue;
        };
        let more = match small.len() - 1 {
            0 => String::new(),
            n => format!(" ({n} more texts under {MIN_PX} px)"),
        };
        problems.push(format!(
            "the figure {src} is illegible on a 390-px screen: its text \"{text}\" shows at \
             {px:.1} px (font size {size} x {rendered:.0} px shown / {width} viewBox width), \
             under {MIN_PX} px{more}; use a larger font or a narrower viewBox"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::judge;

    #[test]
    fn a_figure_is_judged_by_its_smallest_text() {
        let measured = serde_json::from_str::<serde_json::Value>(
            r#"{"figures":[
              {"src":"img/a.svg","rendered":350,"width":700,"texts":[
                {"text":"big","size":20,"px":10},
                {"text":"tiny","size":13,"px":6.5},
                {"text":"small","size":14,"px":7}]},
              {"src":"img/b.svg","rendered":350,"width":400,"texts":[
                {"text":"fine","size":13,"px":11.375}]},
              {"src":"img/c.svg","error":"it is not an SVG document"}]}"#,
        )
        .unwrap();
        let problems = judge(&measured);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("img/a.svg"), "{}", problems[0]);
        assert!(
            problems[0].contains("\"tiny\" shows at 6.5 px"),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains("(1 more texts"), "{}", problems[0]);
        assert!(problems[1].contains("img/c.svg cannot be measured"));
    }
}
