//! Embeds `tauri.conf.json`, the capabilities and the icons (see `tauri::generate_context!`).

fn main() {
    tauri_build::build();
}
