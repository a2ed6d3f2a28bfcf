package cms

import "errors"

// maxBERDepth bounds the nesting berToDER follows, so hostile input cannot
// exhaust the stack.
const maxBERDepth = 64

var errBER = errors.New("bad BER")

// berToDER rewrites a BER element as DER as far as CMS needs: indefinite
// lengths become definite, long-form lengths minimal, and constructed
// OCTET STRINGs (as streaming encoders such as `openssl cms -stream` write
// eContent) become primitive. Other elements are copied as they are.
func berToDER(ber []byte) ([]byte, error) {
	out, rest, err := convertBER(ber, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errBER
	}
	return out, nil
}

// convertBER converts the first element of in and returns its DER and the
// bytes after it.
func convertBER(in []byte, depth int) (der, rest []byte, err error) {
	if depth > maxBERDepth {
		return nil, nil, errBER
	}
	tag, body, rest, indefinite, err := readBERHeader(in)
	if err != nil {
		return nil, nil, err
	}
	constructed := tag[0]&0x20 != 0
	if !constructed {
		if indefinite {
			return nil, nil, errBER
		}
		return appendElement(nil, tag, body), rest, nil
	}
	var content []byte
	for {
		if indefinite {
			if len(body) < 2 {
				return nil, nil, errBER
			}
			if body[0] == 0 && body[1] == 0 {
				body = body[2:]
				break
			}
		} else if len(body) == 0 {
			break
		}
		var child []byte
		child, body, err = convertBER(body, depth+1)
		if err != nil {
			return nil, nil, err
		}
		content = append(content, child...)
	}
	if indefinite {
		// The end-of-contents marker ended the element; what follows it
		// belongs to the parent.
		rest = body
	}
	if len(tag) == 1 && tag[0] == 0x24 {
		// Constructed OCTET STRING: concatenate the segments.
		var octets []byte
		for seg := content; len(seg) > 0; {
			segTag, segBody, segRest, _, err := readBERHeader(seg)
			if err != nil || len(segTag) != 1 || segTag[0] != 0x04 {
				return nil, nil, errBER
			}
			octets = append(octets, segBody...)
			seg = segRest
		}
		return appendElement(nil, []byte{0x04}, octets), rest, nil
	}
	return appendElement(nil, tag, content), rest, nil
}

// readBERHeader splits an element into its identifier octets and body. For
// an indefinite length the body runs to the end of the input and the caller
// finds the end-of-contents marker.
func readBERHeader(in []byte) (tag, body, rest []byte, indefinite bool, err error) {
	if len(in) < 2 {
		return nil, nil, nil, false, errBER
	}
	n := 1
	if in[0]&0x1f == 0x1f {
		for {
			if n >= len(in) || n > 5 {
				return nil, nil, nil, false, errBER
			}
			n++
			if in[n-1]&0x80 == 0 {
				break
			}
		}
	}
	tag = in[:n]
	if n >= len(in) {
		return nil, nil, nil, false, errBER
	}
	l := int(in[n])
	n++
	switch {
	case l == 0x80:
		return tag, in[n:], nil, true, nil
	case l > 0x80:
		width := l & 0x7f
		if width > 4 || n+width > len(in) {
			return nil, nil, nil, false, errBER
		}
		l = 0
		for _, b := range in[n : n+width] {
			l = l<<8 | int(b)
		}
		n += width
	}
	if l < 0 || l > len(in)-n {
		return nil, nil, nil, false, errBER
	}
	return tag, in[n : n+l], in[n+l:], false, nil
}

// appendElement appends a DER element with a minimal definite length.
func appendElement(dst, tag, content []byte) []byte {
	return append(appendHeader(dst, tag, int64(len(content))), content...)
}

// appendHeader appends the identifier and minimal definite length octets
// of an element whose content is l bytes long.
func appendHeader(dst, tag []byte, l int64) []byte {
	dst = append(dst, tag...)
	if l < 0x80 {
		return append(dst, byte(l))
	}
	var buf [8]byte
	i := len(buf)
	for v := l; v > 0; v >>= 8 {
		i--
		buf[i] = byte(v)
	}
	dst = append(dst, 0x80|byte(len(buf)-i))
	return append(dst, buf[i:]...)
}
