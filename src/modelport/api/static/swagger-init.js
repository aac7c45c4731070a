/* Swagger UI on modelport: a selector of the API's documents (the whole API, each model's own). */
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  const config = JSON.parse(document.getElementById("swagger-config").textContent);
  window.ui = SwaggerUIBundle(Object.assign({
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  }, config));
});
