// The navigation's search suggestions close on Escape and when focus leaves the search form.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector(".nav-search");
  if (!form) return;
  const list = form.querySelector("#nav-suggestions");
  const close = () => { list.replaceChildren(); };
  form.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
  form.addEventListener("focusout", (event) => {
    if (!form.contains(event.relatedTarget)) close();
  });
});
