# gnuplot -e "data='…'; out='…'; runs=10" latency.gp
# Bars: medians of start -> ready and stop -> stopped; whiskers up to the p90.
set terminal svg size 760,420 dynamic font "sans,12" background rgb "white"
set output out
set title sprintf("Start and stop latency (median, whisker to p90, %d runs)", runs)
set ylabel "ms"
set xlabel "supervisord: ready = alive for startsecs (1 s); pm2: ready = spawned, before the server listens" font "sans,10"
set yrange [0:*]
set grid ytics lc rgb "#dddddd"
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top left
set xtics nomirror
plot data using 2:2:3:xtic(1) title "start → ready" lc rgb "#4477aa", \
     ''   using 4:4:5 title "stop → stopped" lc rgb "#ee6677"
