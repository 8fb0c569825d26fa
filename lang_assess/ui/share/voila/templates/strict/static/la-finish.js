// The cells are on the page: show them (Voila's inline finishing call, as a file).
window.voila_finish();
