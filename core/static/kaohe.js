// Small page behaviours, declared by data attributes: the Content-Security-Policy allows
// scripts from /static only, so templates carry no inline script or on* handlers.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("[data-submit-on-change]") && el.form) el.form.submit();
  if (el.matches("[data-check-all]")) {
    document.querySelectorAll(`input[name="${el.dataset.checkAll}"]`)
      .forEach((box) => { box.checked = el.checked; });
  }
});
