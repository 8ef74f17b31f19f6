const $ = (id) => document.getElementById(id);
const error = $("error");
function fail(message) {
  error.textContent = message;
  error.hidden = false;
}

$("name").value = localStorage.getItem("wt-name") ?? "";

$("create-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  error.hidden = true;
  const name = $("name").value.trim();
  const body = { name: $("title").value.trim() || undefined, mode: document.querySelector("input[name=mode]:checked").value };
  const source = $("source").value.trim();
  if (source) body.source = source;
  const password = $("password").value;
  if (password) body.password = password;
  $("create").disabled = true;
  try {
    const res = await fetch("/api/rooms", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const out = await res.json();
    if (!res.ok) throw new Error(out.error?.message ?? `HTTP ${res.status}`);
    if (name) localStorage.setItem("wt-name", name);
    localStorage.setItem(`wt-host:${out.id}`, out.hostToken);
    // The creator knows the password: do not ask for it again.
    if (password) sessionStorage.setItem(`wt-pw:${out.id}`, password);
    location.href = out.url;
  } catch (err) {
    fail(`Could not create a room: ${err.message}`);
    $("create").disabled = false;
  }
});

$("join").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = $("code").value.trim();
  const id = value.split(/[/?#]/).filter(Boolean).find((part) => /^[A-Za-z0-9_-]{22}$/.test(part)) ?? "";
  if (!id) return fail("That is not a room link or code: a code has 22 letters, digits, - or _.");
  location.href = `/r/${id}`;
});
