// Reports > Calls: a play button loads its call's recording into the page's one player and plays it
// (the file is streamed with HTTP Range, so seeking works).
document.querySelectorAll("button.play").forEach((button) => {
  button.addEventListener("click", () => {
    const player = document.getElementById("player");
    if (player.getAttribute("src") !== button.dataset.src) {
      player.setAttribute("src", button.dataset.src);
    }
    player.play();
  });
});
