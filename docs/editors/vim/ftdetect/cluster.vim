autocmd BufRead,BufNewFile *.cluster setfiletype cluster
