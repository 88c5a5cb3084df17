module github.com/limpetnet/limpet

go 1.26
