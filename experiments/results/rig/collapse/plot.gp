# gnuplot plot.gp: B's pages local in the collapse variant (results.csv),
# the engine without and with its split page checks.
set terminal pngcairo size 800,480
set output 'locality.png'
set datafile separator ','
set title 'Rig, host THP always, fragmented + collapse: B local (first touch alone)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'B pages local (%)'
set yrange [80:101]
set key below
plot '< grep ^always results.csv | sort -t, -k3r' \
     using ($12*100):xtic(stringcolumn(3) eq "d" ? "split pages checked (d)" : "not checked (d-nocheck)") title 'after touch', \
     '' using ($13*100) title 'after the hold (collapsed meanwhile)'
