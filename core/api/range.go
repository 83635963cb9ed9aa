package api

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// byteRange is the part of an image a download sends.
type byteRange struct {
	offset, length int64
	partial        bool // 206 with Content-Range
}

var (
	rangeRe        = regexp.MustCompile(`(?i)^bytes *= *(\d*) *- *(\d*)`)
	contentRangeRe = regexp.MustCompile(`(?i)^bytes +(\d+)-(\d+)/(\d+|\*)$`)
)

// parseRange interprets Range (or, for old clients, Content-Range) as
// Glance does (glance/common/wsgi.py get_range_from_request and the
// download serializer): a single range only, suffix ranges allowed, a start
// at or beyond the end is 416.
func parseRange(h http.Header, size int64) (byteRange, *httpError) {
	whole := byteRange{length: size}
	if rs := h.Get("Range"); rs != "" {
		if strings.Contains(rs, ",") {
			return whole, newError(http.StatusBadRequest, "Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.")
		}
		invalid := &httpError{status: http.StatusRequestedRangeNotSatisfiable, detail: "Invalid Range header."}
		m := rangeRe.FindStringSubmatch(rs)
		if m == nil || (m[1] == "" && m[2] == "") {
			return whole, invalid
		}
		var start, end int64 = 0, -1 // end exclusive; -1: open
		if m[1] == "" {
			n, err := strconv.ParseInt(m[2], 10, 64)
			if err != nil {
				return whole, invalid
			}
			start = -n
		} else {
			var err error
			if start, err = strconv.ParseInt(m[1], 10, 64); err != nil {
				return whole, invalid
			}
			if m[2] != "" {
				e, err := strconv.ParseInt(m[2], 10, 64)
				if err != nil || e == 1<<63-1 {
					return whole, invalid
				}
				end = e + 1
				if start >= end {
					return whole, invalid
				}
			}
		}
		if start >= size {
			return whole, &httpError{status: http.StatusRequestedRangeNotSatisfiable,
				detail: "Invalid start position in Range header. Start position MUST be in the inclusive range [0, " + strconv.FormatInt(size-1, 10) + "]."}
		}
		offset := int64(0)
		if start >= 0 {
			offset = start
		} else if -start < size {
			offset = size + start
		}
		length := size - offset
		if end >= 0 && end < size {
			length = end - offset
		}
		return byteRange{offset: offset, length: length, partial: true}, nil
	}
	if cr := h.Get("Content-Range"); cr != "" {
		m := contentRangeRe.FindStringSubmatch(strings.TrimSpace(cr))
		if m == nil {
			return whole, &httpError{status: http.StatusRequestedRangeNotSatisfiable, detail: "Invalid Content-Range header."}
		}
		start, err1 := strconv.ParseInt(m[1], 10, 64)
		last, err2 := strconv.ParseInt(m[2], 10, 64)
		if err1 != nil || err2 != nil || last < start {
			return whole, &httpError{status: http.StatusRequestedRangeNotSatisfiable, detail: "Invalid Content-Range header."}
		}
		stop := last + 1
		if m[3] == "*" && stop > size {
			return whole, &httpError{status: http.StatusRequestedRangeNotSatisfiable,
				detail: "Invalid stop position in Content-Range header. The stop position MUST be in the inclusive range [0, " + strconv.FormatInt(size-1, 10) + "]."}
		}
		if start >= size {
			return whole, &httpError{status: http.StatusRequestedRangeNotSatisfiable,
				detail: "Invalid start position in Content-Range header. Start position MUST be in the inclusive range [0, " + strconv.FormatInt(size-1, 10) + "]."}
		}
		stop = min(stop, size)
		return byteRange{offset: start, length: stop - start, partial: true}, nil
	}
	return whole, nil
}
