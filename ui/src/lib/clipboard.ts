import { invoke, isTauri } from "@tauri-apps/api/core";

// Copying text, also where navigator.clipboard is not allowed (plain http pages).

/** Copies text to the clipboard; false when the browser refused. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the textarea way
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/**
 * Offers text as a file download. In a browser that is an `<a download>`
 * click (the browser says where it went); in the desktop app, whose WebKitGTK
 * drops such clicks, the app saves it in the Downloads folder and the path
 * comes back.
 */
export async function downloadText(filename: string, text: string, type = "application/yaml"): Promise<string | null> {
  if (isTauri()) {
    return await invoke<string>("save_download", { filename, contents: text });
  }
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  return null;
}
