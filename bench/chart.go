package bench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	_ "gonum.org/v1/plot/vg/vgimg" // .png
	_ "gonum.org/v1/plot/vg/vgsvg" // .svg
)

var (
	directColor  = color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}
	bridgedColor = color.RGBA{R: 0xdd, G: 0x84, B: 0x52, A: 0xff}
)

// WriteChart draws the latencies in the style of the paper's figure — for
// each message size, bars grouped by transport, direct next to bridged
// (p50, µs), the ratio written above each group — into a .png or .svg.
func WriteChart(r *Report, path string) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if format != "png" && format != "svg" {
		return fmt.Errorf("%s: want a .png or .svg file", path)
	}
	var sizes []int
	for _, x := range r.Results {
		if !slices.Contains(sizes, x.Size) {
			sizes = append(sizes, x.Size)
		}
	}
	if len(sizes) == 0 {
		return fmt.Errorf("no latency results to draw")
	}
	var rows [][]*plot.Plot
	for _, size := range sizes {
		p, err := sizePlot(r, size)
		if err != nil {
			return err
		}
		rows = append(rows, []*plot.Plot{p})
	}
	w, h := 16*vg.Centimeter, vg.Length(len(rows))*9*vg.Centimeter
	c, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	canvases := plot.Align(rows, draw.Tiles{Rows: len(rows), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter, PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 2 * vg.Millimeter}, dc)
	for i, row := range rows {
		row[0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func sizePlot(r *Report, size int) (*plot.Plot, error) {
	var names []string
	var direct, bridged plotter.Values
	var ratios plotter.XYLabels
	top := 0.0
	for _, x := range r.Results {
		if x.Size == size {
			top = max(top, x.DirectP50US, x.BridgedP50US)
		}
	}
	for _, x := range r.Results {
		if x.Size != size {
			continue
		}
		i := float64(len(names))
		names = append(names, x.Transport)
		direct = append(direct, x.DirectP50US)
		bridged = append(bridged, x.BridgedP50US)
		ratios.XYs = append(ratios.XYs, plotter.XY{X: i, Y: max(x.DirectP50US, x.BridgedP50US) + top*0.04})
		ratios.Labels = append(ratios.Labels, fmt.Sprintf("×%.2f", x.RatioP50))
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s round trip, p50 (bridged/direct above each pair)", FormatSize(int64(size))+"B")
	if len(r.Runs) > 1 {
		p.Title.Text = fmt.Sprintf("%s round trip, p50, medians of %d runs (bridged/direct above each pair)", FormatSize(int64(size))+"B", len(r.Runs))
	}
	p.Y.Label.Text = "latency (µs)"
	p.Y.Min = 0
	p.Y.Max = top * 1.35
	w := vg.Points(28)
	bd, err := plotter.NewBarChart(direct, w)
	if err != nil {
		return nil, err
	}
	bd.Color, bd.Offset, bd.LineStyle.Width = directColor, -w/2, 0
	bb, err := plotter.NewBarChart(bridged, w)
	if err != nil {
		return nil, err
	}
	bb.Color, bb.Offset, bb.LineStyle.Width = bridgedColor, w/2, 0
	labels, err := plotter.NewLabels(ratios)
	if err != nil {
		return nil, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].XAlign = text.XCenter
	}
	p.Add(bd, bb, labels, plotter.NewGrid())
	p.Legend.Add("CA↔CA (direct)", bd)
	p.Legend.Add("CA↔TA (tzbridge)", bb)
	p.Legend.Top = true
	p.Legend.Left = false
	p.NominalX(names...)
	return p, nil
}
