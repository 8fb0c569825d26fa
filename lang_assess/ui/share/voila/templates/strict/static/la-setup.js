// Voila's loading helpers, as a file instead of an inline script (the pages' CSP allows
// scripts from this server only).
window.voila_heartbeat = function () {};
window.update_loading_text = function (cellIndex, cellCount, text) {
  const spinner = document.getElementById("loading");
  if (spinner && spinner.style.display === "none") {
    spinner.style.display = "flex";
  }
  const el = document.getElementById("loading_text");
  if (el) {
    el.textContent = text ?? `${cellIndex} / ${cellCount}`;
  }
};
window.display_cells = function () {
  if (!window.themeLoaded) {
    window.cellLoaded = true;
    return;
  }
  const el = document.getElementById("loading");
  if (el) {
    el.parentNode.removeChild(el);
  }
  const cells = document.getElementById("rendered_cells");
  if (cells) {
    cells.style.display = "";
  }
};
window.voila_process = window.update_loading_text;
window.voila_finish = window.display_cells;
