module github.com/gostkey/gostkey

go 1.26
