package main

import (
	"bufio"
	"fmt"
	"io"

	qrcode "github.com/skip2/go-qrcode"
)

// drawQR draws text as a QR code with Unicode half blocks, two modules
// rows to a line of text. Light modules (and the quiet zone) are drawn,
// dark ones left blank, as `qrencode -t UTF8` does: on the usual light on
// dark terminal the code then reads dark on light, as scanners expect.
func drawQR(w io.Writer, text string) error {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	bm := q.Bitmap() // true: dark; with its 4-module quiet zone
	light := func(y, x int) bool { return y < len(bm) && !bm[y][x] }
	bw := bufio.NewWriter(w)
	for y := 0; y < len(bm); y += 2 {
		for x := range bm[y] {
			switch top, bottom := light(y, x), light(y+1, x); {
			case top && bottom:
				bw.WriteString("█")
			case top:
				bw.WriteString("▀")
			case bottom:
				bw.WriteString("▄")
			default:
				bw.WriteByte(' ')
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
