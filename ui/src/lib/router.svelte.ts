// Hash routing between the pages: #/status, #/storage, #/config, #/credentials, #/trust.

/** The pages of the app. */
export type Page = "status" | "storage" | "config" | "credentials" | "trust" | "disk" | "repositories" | "webhooks" | "users";

/** The pages in sidebar order, with their titles. */
export const pages: { id: Page; title: string; subtitle: string }[] = [
  { id: "status", title: "Status", subtitle: "The registry process, its address and its live log." },
  { id: "storage", title: "Storage", subtitle: "Where the registry keeps images: pick a backend, test it, save." },
  { id: "config", title: "Configuration", subtitle: "The registry's config.yml: download it, or review and apply a new one." },
  { id: "credentials", title: "Credentials", subtitle: "Secrets kept in the OS keychain, never in config.yml." },
  { id: "disk", title: "Disk", subtitle: "Where the space goes: volumes, the registry's usage and its growth; reclaim space." },
  { id: "repositories", title: "Repositories", subtitle: "Browse repositories, tags and manifests; copy pull commands; delete what is no longer needed." },
  { id: "webhooks", title: "Webhooks", subtitle: "Tell other systems about every push, pull and delete: endpoints, test events, delivery log." },
  { id: "users", title: "Users", subtitle: "Who may push and pull: the registry's logins (htpasswd, bcrypt), changed without a restart." },
  { id: "trust", title: "Trust", subtitle: "The registry's CA: make this machine and others trust it, and prove it works." },
];

function fromHash(): Page {
  const id = window.location.hash.replace(/^#\/?/, "");
  return pages.some((p) => p.id === id) ? (id as Page) : "status";
}

/** The page on screen. */
export const route = $state({ page: fromHash() });

window.addEventListener("hashchange", () => {
  route.page = fromHash();
});
