const error = document.getElementById("error");
function fail(message) {
  error.textContent = message;
  error.hidden = false;
}

document.getElementById("create").addEventListener("click", async () => {
  try {
    const res = await fetch("/api/rooms", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
    localStorage.setItem(`wt-host:${body.id}`, body.hostToken);
    location.href = body.url;
  } catch (e) {
    fail(`Could not create a room: ${e.message}`);
  }
});

document.getElementById("join").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = document.getElementById("code").value.trim();
  const id = value.split("/").filter(Boolean).pop() ?? "";
  if (!/^[A-Za-z0-9_-]{22}$/.test(id)) return fail("That is not a room link or code.");
  location.href = `/r/${id}`;
});
