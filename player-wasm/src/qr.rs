//! The room link as a QR code, for the room page's Share panel: a phone
//! joins by pointing its camera at the screen.
//!
//! The encoding is the `qrcodegen` crate (Project Nayuki's reference
//! implementation, no dependencies); this file only draws its modules as
//! one SVG path, so the page can show it without a canvas or an image.

use std::fmt::Write as _;

use qrcodegen::{QrCode, QrCodeEcc};
use wasm_bindgen::prelude::*;

/// Quiet zone around the code, in modules (the standard asks for 4).
const BORDER: i32 = 4;

/// `text` (a room link) as an SVG QR code: black modules on white, medium
/// error correction (a screen photographed at an angle still reads). Text
/// too long for any QR version is an error, not a panic.
#[wasm_bindgen(js_name = qrSvg)]
pub fn qr_svg(text: &str) -> Result<String, JsError> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).map_err(|_| JsError::new("too long for a QR code"))?;
    Ok(svg(&code))
}

fn svg(code: &QrCode) -> String {
    let size = code.size();
    let side = size + 2 * BORDER;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                let _ = write!(path, "M{},{}h1v1h-1z", x + BORDER, y + BORDER);
            }
        }
    }
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" shape-rendering="crispEdges" role="img" aria-label="QR code of the room link"><rect width="{side}" height="{side}" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_link_draws_one_square_per_dark_module_inside_the_quiet_zone() {
        let link = "https://watch.example/r/AAAAAAAAAAAAAAAAAAAAAA";
        let code = QrCode::encode_text(link, QrCodeEcc::Medium).expect("encodes");
        let out = svg(&code);
        let dark = (0..code.size()).flat_map(|y| (0..code.size()).map(move |x| (x, y))).filter(|&(x, y)| code.get_module(x, y)).count();
        assert_eq!(out.matches('M').count(), dark);
        let side = code.size() + 2 * BORDER;
        assert!(out.contains(&format!(r#"viewBox="0 0 {side} {side}""#)));
        // The top-left finder pattern's corner sits just inside the quiet zone.
        assert!(out.contains(&format!("M{BORDER},{BORDER}h1v1h-1z")));
    }
}
