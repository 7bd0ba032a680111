// The one script on every page. It does nothing unless a search result brought the reader here
// (?pagefind-highlight=word): then it loads Pagefind's highlighter, which marks the searched words.
// No other page loads search code; the search page has its own script.
(function () {
  var param = "pagefind-highlight"; // search.js puts it on every result link
  if (!new URLSearchParams(location.search).has(param)) return;
  // The bundle sits beside static/, so this works under any --base-url.
  var url = new URL("../pagefind/pagefind-highlight.js", document.currentScript.src).href;
  import(url).then(function (m) {
    // addStyles: false — its inline <style> would break the Content Security Policy; the browser's
    // own <mark> colours (or site.css) show the words.
    new m.default({ highlightParam: param, addStyles: false });
  }, function () { /* no index (built with --no-search): the page reads as it is */ });
})();
