package proxy

import (
	"mime"
	"strings"
)

// sharedCompressible reports whether compressing e for the shared tier may pay. Not when
// its body is compressed already: a Content-Encoding other than identity, or a
// type that is compressed by its nature (images other than SVG, audio, video,
// archives, WOFF fonts). The tier skips small entries itself.
func (e *entry) sharedCompressible() bool {
	if ce := strings.TrimSpace(strings.ToLower(e.get("Content-Encoding"))); ce != "" && ce != "identity" {
		return false
	}
	t, _, err := mime.ParseMediaType(e.get("Content-Type"))
	if err != nil {
		return true // no or odd type: the tier keeps the value raw if it does not shrink
	}
	major, minor, _ := strings.Cut(t, "/")
	switch major {
	case "image":
		return minor == "svg+xml" || minor == "bmp" || minor == "x-icon" || minor == "vnd.microsoft.icon"
	case "audio", "video":
		return false
	case "font":
		return minor != "woff" && minor != "woff2"
	case "application":
		switch minor {
		case "zip", "gzip", "x-gzip", "zstd", "x-bzip2", "x-xz", "x-7z-compressed", "x-rar-compressed",
			"vnd.rar", "x-tar+gzip", "java-archive", "vnd.android.package-archive", "epub+zip",
			"x-compress", "x-lzip", "x-lzma", "brotli", "font-woff", "wasm+gzip":
			return false
		}
	}
	return true
}
