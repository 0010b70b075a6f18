# textserve for SpamAssassin: each message SpamAssassin checks is sent, raw, to textserve's spam detector
# (POST /api/v1/predict with Content-Type: message/rfc822, at most once per message), and its verdict decides
# which of the rules in textserve.cf hit:
#
#   TEXTSERVE_SPAM_99  the model says spam with a probability of 0.99 or more
#   TEXTSERVE_SPAM     the model says spam, below 0.99
#   TEXTSERVE_HAM      the model says ham
#   TEXTSERVE_FAIL     no verdict (textserve unreachable, timed out, or refused the message): an informational
#                      score, so mail keeps flowing on SpamAssassin's other rules; SpamAssassin logs why
#
# The rule's description in the report carries the spam probability, and the _TEXTSERVE_ tag the verdict, the
# probability, the model version and textserve's request id (the id its inference log and POST /api/v1/feedback
# know the prediction by): textserve.cf adds it to the message as X-Spam-TextServe, where
# integrations/textserve_learn.py finds it when a user moves the message to or from Junk. The model's verdict is
# one signal among SpamAssassin's rules, not a verdict on its own: it reads the text, not the sender.
#
# Install (docs/mail-servers.md): this file and textserve.cf in /etc/spamassassin/, textserve.pre there too (it
# loads this file). Perl's core modules only (HTTP::Tiny, JSON::PP). Tested with Debian's SpamAssassin 4.0
# (tests/e2e/test_spamassassin.py).

package Mail::SpamAssassin::Plugin::TextServe;

use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP ();
use Mail::SpamAssassin::Logger qw(dbg info);
use Mail::SpamAssassin::Plugin;
use Mail::SpamAssassin::Timeout;

our @ISA = qw(Mail::SpamAssassin::Plugin);
our $VERSION = '1.0';

sub new {
  my ($class, $main) = @_;
  $class = ref($class) || $class;
  my $self = $class->SUPER::new($main);
  bless($self, $class);
  $self->set_config($main->{conf});
  $self->register_eval_rule('check_textserve', $Mail::SpamAssassin::Conf::TYPE_FULL_EVALS);
  return $self;
}

sub set_config {
  my ($self, $conf) = @_;
  my $string = $Mail::SpamAssassin::Conf::CONF_TYPE_STRING;
  my $numeric = $Mail::SpamAssassin::Conf::CONF_TYPE_NUMERIC;
  # Site-wide only (is_admin): a user's preferences cannot send their mail elsewhere or read the key.
  $conf->{parser}->register_commands([
    { setting => 'textserve_url', default => 'http://127.0.0.1:8080', type => $string, is_admin => 1 },
    { setting => 'textserve_environment', default => 'production', type => $string, is_admin => 1 },
    { setting => 'textserve_api_key', default => '', type => $string, is_admin => 1 },
    { setting => 'textserve_timeout', default => 5, type => $numeric, is_admin => 1 },
    { setting => 'textserve_max_size', default => 2097152, type => $numeric, is_admin => 1 },
  ]);
}

# spamd checks a made-up message when it starts (compile_now, to load and compile everything), as `spamassassin
# --lint` does: neither is mail, so neither is sent (it would be a prediction in textserve's inference log, and a slow
# gateway would hold spamd's start).
sub compile_now_start { $_[0]->{compiling} = 1; return; }
sub compile_now_finish { $_[0]->{compiling} = 0; return; }

# eval:check_textserve('spam', MIN, MAX): the verdict is spam with MIN <= p < MAX; ('ham'); ('fail').
sub check_textserve {
  my ($self, $pms, undef, $want, $min, $max) = @_;
  return 0 if $self->{compiling} || $self->{main}->{lint_rules};
  $pms->{textserve} = $self->_ask($pms) unless exists $pms->{textserve};
  my $answer = $pms->{textserve};
  return 0 unless $answer->{verdict} eq $want;
  return 1 unless defined $answer->{p};
  return 0 if defined $min && $answer->{p} < $min;
  return 0 if defined $max && $answer->{p} >= $max;
  $pms->test_log(sprintf('p=%.4f', $answer->{p}));
  return 1;
}

sub _ask {
  my ($self, $pms) = @_;
  my $conf = $pms->{conf};
  my $raw = $pms->{msg}->get_pristine();
  if (length($raw) > $conf->{textserve_max_size}) {
    # As SpamAssassin's own scanners skip a message over their size limit: logged, no rule hits.
    info('textserve: not sent: %d bytes, over textserve_max_size %d', length($raw), $conf->{textserve_max_size});
    $pms->set_tag('TEXTSERVE', 'none over textserve_max_size');
    return { verdict => 'none' };
  }
  my %headers = ('Content-Type' => 'message/rfc822', 'X-Environment' => $conf->{textserve_environment});
  $headers{Authorization} = "Bearer $conf->{textserve_api_key}" if length $conf->{textserve_api_key};
  (my $url = $conf->{textserve_url}) =~ s{/+$}{};
  my $limit = $conf->{textserve_timeout};
  # An answer is a few hundred bytes: a larger one is refused (599) rather than held in the child's memory.
  $self->{http} ||= HTTP::Tiny->new(keep_alive => 1, max_size => 65536, agent => "textserve-spamassassin/$VERSION");
  $self->{http}->timeout($limit);
  # HTTP::Tiny's timeout bounds each wait on the socket, not the call: a server that answers a byte at a time would
  # hold the message for as long as it likes. The whole call is bounded too, by SpamAssassin's own alarm-based timer.
  my $timer = Mail::SpamAssassin::Timeout->new({ secs => $limit });
  my $response = $timer->run(sub {
    $self->{http}->post("$url/api/v1/predict", { headers => \%headers, content => $raw });
  });
  if ($timer->timed_out()) {
    delete $self->{http};  # its connection is half-read: the next message opens another
    return _fail($pms, "Timed out after $limit s (textserve_timeout)");
  }
  my $answer = eval { JSON::PP::decode_json($response->{content}) };
  if (!$response->{success}) {
    # 599: HTTP::Tiny's own failure (refused, timed out), its message in the content.
    my $why = $response->{status} == 599
      ? (split /\n/, $response->{content} // 'no answer')[0]
      : sprintf('HTTP %s %s', $response->{status},
          ref($answer) eq 'HASH' && ref($answer->{error}) eq 'HASH' ? $answer->{error}{code} : 'no error body');
    return _fail($pms, $why);
  }
  if (ref($answer) ne 'HASH' || !defined $answer->{spam_probability} || !defined $answer->{prediction}) {
    return _fail($pms, 'an answer without spam_probability');
  }
  my $verdict = $answer->{prediction} eq 'spam' ? 'spam' : 'ham';
  my $p = 0 + $answer->{spam_probability};
  my $version = $answer->{model_version} // '';
  my $request_id = $answer->{request_id} // '';
  $pms->set_tag('TEXTSERVE', sprintf('%s p=%.4f version=%s request_id=%s', $verdict, $p, $version, $request_id));
  dbg("textserve: $verdict p=$p version=$version request_id=$request_id");
  return { verdict => $verdict, p => $p };
}

sub _fail {
  my ($pms, $why) = @_;
  $why =~ s/[\r\n]+/ /g;
  info("textserve: no verdict: $why");
  $pms->set_tag('TEXTSERVE', "fail $why");
  return { verdict => 'fail' };
}

1;
