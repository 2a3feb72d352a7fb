// Copy buttons: <button data-copy="ID"> copies the text of the element ID.
// A file of its own, as the catalog's Content-Security-Policy runs no
// inline script.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", () => {
    const text = document.getElementById(button.dataset.copy).textContent;
    navigator.clipboard.writeText(text).then(() => { button.textContent = "copied"; });
  });
}
