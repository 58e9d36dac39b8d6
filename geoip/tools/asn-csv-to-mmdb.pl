#!/usr/bin/perl
# Builds a MaxMind-format ASN database from the CSV files of the npm package
# @ip-location-db/asn (lines: first_ip,last_ip,asn,organisation; inclusive
# ranges). The npm registry no longer carries the package's own mmdb variant,
# so we convert the CSV with MaxMind's writer (Debian: libmaxmind-db-writer-perl).
# Records use the GeoLite2-ASN field names, so any MaxMind reader understands them.
#
# usage: asn-csv-to-mmdb.pl OUT.mmdb BUILD_EPOCH DESCRIPTION FILE.csv...
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my ( $out, $epoch, $description, @csv ) = @ARGV;
die "usage: $0 OUT.mmdb BUILD_EPOCH DESCRIPTION FILE.csv...\n"
    unless defined $out && defined $epoch && $epoch =~ /^\d+$/ && @csv;

my %types = (
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version            => 6,
    record_size           => 24,
    database_type         => 'ip-location-db-asn',
    languages             => ['en'],
    description           => { en => $description },
    map_key_type_callback => sub { $types{ $_[0] } },
    # Keep the source faithful: no aliases, no silent removal of ranges.
    alias_ipv6_to_ipv4       => 0,
    remove_reserved_networks => 0,
);
# Reproducible output: the build time is the data's date, not now.
$tree->_set_build_epoch($epoch);

my $rows = 0;
for my $file (@csv) {
    open my $fh, '<:encoding(UTF-8)', $file or die "$file: $!\n";
    while ( my $line = <$fh> ) {
        $line =~ s/\r?\n\z//;
        next if $line eq q{};
        my ( $first, $last, $asn, $org )
            = $line =~ /\A([^,"]+),([^,"]+),(\d+),(.*)\z/
            or die "$file:$.: not first,last,asn,org: $line\n";
        if ( $org =~ /\A"(.*)"\z/s ) {
            ( $org = $1 ) =~ s/""/"/g;
        }
        my %record = ( autonomous_system_number => 0 + $asn );
        $record{autonomous_system_organization} = $org if length $org;
        $tree->insert_range( $first, $last, \%record );
        $rows++;
    }
    close $fh;
}
open my $ofh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($ofh);
close $ofh or die "$out: $!\n";
print STDERR "$out: $rows ranges\n";
