package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate is parsed once; html/template escapes every value by
// context, so untrusted names (sites, features, groups) cannot inject markup.
var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"px":     px2,
	"layout": func(c chart) svgChart { return c.layout() },
}).Parse(htmlSource))

func renderHTML(buf *bytes.Buffer, d Data) error {
	if err := htmlTemplate.Execute(buf, buildView(d)); err != nil {
		return fmt.Errorf("report: render HTML: %w", err)
	}
	return nil
}
