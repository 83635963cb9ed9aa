package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// ErrUnknownStore is what Stores.Store returns, wrapped, for an id that is
// not configured.
var ErrUnknownStore = errors.New("api: unknown store")

// ErrUnauthenticated is what an AuthFunc returns, wrapped, for a caller it
// cannot identify.
var ErrUnauthenticated = errors.New("api: unauthenticated")

// httpError is a webob HTTP exception: status, explanation and detail.
type httpError struct {
	status      int
	explanation string // "" means webob's default for the status
	detail      string
	// body replaces the body template (webob classes with their own, such
	// as 415 and 405).
	body string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s %s", e.status, webobTitle(e.status), e.explanation, e.detail)
}

func newError(status int, format string, args ...any) *httpError {
	return &httpError{status: status, explanation: fmt.Sprintf(format, args...)}
}

// webobTitle is webob's title of a status.
func webobTitle(status int) string {
	switch status {
	case 413:
		return "Request Entity Too Large"
	case 416:
		return "Request Range Not Satisfiable"
	case 431:
		return "Request Header Fields Too Large"
	}
	return http.StatusText(status)
}

// webobExplanation is webob's default explanation of a status.
func webobExplanation(status int) string {
	switch status {
	case 400:
		return "The server could not comply with the request since it is either malformed or otherwise incorrect."
	case 401:
		return "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required."
	case 403:
		return "Access was denied to this resource."
	case 404:
		return "The resource could not be found."
	case 409:
		return "There was a conflict when trying to complete your request."
	case 410:
		return "This resource is no longer available.  No forwarding address is given."
	case 413:
		return "The request is larger than the server is willing or able to process."
	case 416:
		return "The Range requested is not available."
	case 431:
		return "The server refused this request because the request header fields are too large"
	case 500:
		return "The server has either erred or is incapable of performing the requested operation."
	case 503:
		return "The server is currently unavailable. Please try again at a later time."
	}
	return ""
}

// makeBody is webob's body_template_obj with the given escaping.
func (e *httpError) makeBody(escape func(string) string) string {
	if e.body != "" {
		return e.body
	}
	expl := e.explanation
	if expl == "" {
		expl = webobExplanation(e.status)
	}
	return escape(expl) + "<br /><br />\n" + escape(e.detail) + "\n\n"
}

var (
	brRe  = regexp.MustCompile(`(?is)<br.*?>`)
	tagRe = regexp.MustCompile(`(?s)<.*?>`)
)

func stripTags(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "\r", "")
	s = brRe.ReplaceAllString(s, "\n")
	return tagRe.ReplaceAllString(s, "")
}

func noEscape(s string) string { return s }

// pyEscape is Python's html.escape (webob's escaping of error pages).
var pyEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;")

func pyEscape(s string) string { return pyEscaper.Replace(s) }

// render writes the error as webob does: HTML unless the client prefers
// JSON or accepts neither (then text/plain).
func (e *httpError) render(c *gin.Context) {
	status := fmt.Sprintf("%d %s", e.status, webobTitle(e.status))
	var ctype, body string
	switch negotiate(c.GetHeader("Accept")) {
	case "application/json":
		ctype = "application/json"
		b, _ := marshal(struct {
			Message string `json:"message"`
			Code    string `json:"code"`
			Title   string `json:"title"`
		}{e.makeBody(noEscape), status, webobTitle(e.status)})
		body = string(b)
	case "text/html":
		ctype = "text/html; charset=UTF-8"
		body = "<html>\n <head>\n  <title>" + status + "</title>\n </head>\n <body>\n  <h1>" + status + "</h1>\n  " +
			e.makeBody(pyEscape) + "\n </body>\n</html>"
	default:
		ctype = "text/plain; charset=UTF-8"
		body = status + "\n\n" + stripTags(e.makeBody(noEscape))
	}
	c.Header("Content-Type", ctype)
	c.Header("Content-Length", strconv.Itoa(len(body)))
	c.Status(e.status)
	c.Writer.WriteString(body)
}

// fail renders err and stops the handler chain.
func fail(c *gin.Context, err *httpError) {
	err.render(c)
	c.Abort()
}

// negotiate picks among webob's offers text/html and application/json by
// the Accept header's quality values (ties go to text/html); "" when
// neither is acceptable.
func negotiate(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return "text/html"
	}
	offers := []string{"text/html", "application/json"}
	best, bestQ := "", 0.0
	for _, offer := range offers {
		if q := quality(accept, offer); q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best
}

// quality returns the q of the most specific range in accept matching
// offer.
func quality(accept, offer string) float64 {
	otype, osub, _ := strings.Cut(offer, "/")
	q, spec := 0.0, -1
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		t, sub, _ := strings.Cut(mt, "/")
		s := -1
		switch {
		case t == otype && sub == osub:
			s = 2
		case t == otype && sub == "*":
			s = 1
		case t == "*" && sub == "*":
			s = 0
		}
		if s < 0 || s < spec {
			continue
		}
		pq := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				pq = f
			}
		}
		q, spec = pq, s
	}
	return q
}
