package config

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Files returns the parsed source files by name, for
// hcl.NewDiagnosticTextWriter or FormatDiagnostics. It is safe on a nil
// Config.
func (c *Config) Files() map[string]*hcl.File {
	if c == nil || c.parser == nil {
		return nil
	}
	return c.parser.Files()
}

// WriteDiagnostics writes diags in the form of FormatDiagnostics, with
// snippets of this configuration's source. It is safe on a nil Config
// (no snippets then).
func (c *Config) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	_, err := io.WriteString(w, FormatDiagnostics(c.Files(), diags))
	return err
}

// FormatDiagnostics renders each diagnostic as
//
//	file.hcl:LINE:COL: error: Summary; Detail
//	   LINE | the source line
//	        |     ^^^^^
//
// with the snippet only when files holds the source. Use it for
// diagnostics from Load, Parse, DecodeConfig and PluginDiagnostics.
func FormatDiagnostics(files map[string]*hcl.File, diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		if d == nil {
			continue
		}
		b.WriteString(diagLine(d))
		b.WriteByte('\n')
		if d.Subject != nil {
			if f := files[d.Subject.Filename]; f != nil {
				writeSnippet(&b, f.Bytes, *d.Subject)
			}
		}
	}
	return b.String()
}

// diagLine is the one-line form: "file:line:col: severity: summary; detail".
func diagLine(d *hcl.Diagnostic) string {
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	msg := d.Summary
	if d.Detail != "" {
		msg += "; " + d.Detail
	}
	if d.Subject == nil {
		return sev + ": " + msg
	}
	r := d.Subject
	if r.Start.Line == 0 { // a range with a file name but no position
		return fmt.Sprintf("%s: %s: %s", r.Filename, sev, msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", r.Filename, r.Start.Line, r.Start.Column, sev, msg)
}

func writeSnippet(b *strings.Builder, src []byte, r hcl.Range) {
	start := r.Start.Byte
	if r.Start.Line == 0 || start < 0 || start > len(src) {
		return
	}
	lineStart := bytes.LastIndexByte(src[:start], '\n') + 1
	lineEnd := len(src)
	if i := bytes.IndexByte(src[start:], '\n'); i >= 0 {
		lineEnd = start + i
	}
	line := strings.TrimRight(string(src[lineStart:lineEnd]), "\r")
	end := r.End.Byte
	if end > lineEnd || end < start {
		end = lineEnd
	}
	var pad strings.Builder
	for _, ch := range string(src[lineStart:start]) {
		if ch == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	n := utf8.RuneCount(src[start:end])
	if n < 1 {
		n = 1
	}
	num := fmt.Sprint(r.Start.Line)
	fmt.Fprintf(b, "  %s | %s\n", num, line)
	fmt.Fprintf(b, "  %s | %s%s\n", strings.Repeat(" ", len(num)), pad.String(), strings.Repeat("^", n))
}
