// The login page: the name and password sent as JSON to /api/login (which sets the session
// cookie), then back to the page the user came from (`?next=`, this site's only) or the grid.

const form = document.getElementById("login");
const message = document.getElementById("login-error");

function next() {
  const target = new URLSearchParams(location.search).get("next") ?? "/";
  // Only a path of this site: never `//other.site` or `https://...`.
  return target.startsWith("/") && !target.startsWith("//") ? target : "/";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  message.hidden = true;
  form.dataset.state = "sending";
  const fields = new FormData(form);
  const response = await fetch("/api/login", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ name: fields.get("name"), password: fields.get("password") }),
  }).catch(() => null);
  if (response?.ok) {
    location.assign(next());
    return;
  }
  const data = response ? await response.json().catch(() => ({})) : {};
  message.textContent =
    response?.status === 401
      ? "Wrong name or password."
      : `Could not log in: ${data.detail ?? "no answer"}`;
  message.hidden = false;
  form.dataset.state = "error";
});
