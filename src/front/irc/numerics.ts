/**
 * The IRC numeric replies parley's IRC front end sends, named as in RFC 1459 /
 * RFC 2812 and the modern client protocol (modern.ircdocs.horse, "Numerics").
 *
 * Each comment gives the parameters after the numeric, as the modern document
 * lists them. `<client>` is the receiving client's nick, or `*` before it has
 * one (formatNumeric's `target`). Texts after `:` are human-readable and may be
 * worded freely; everything before them is read by clients and must keep its
 * shape. Send them with `formatNumeric(CODE, params, { server, target })`.
 *
 * @module
 */

// Registration (sent in this order on completion, then LUSERS, then MOTD or 422).

/** `<client> :Welcome to the <networkname> Network, <nick>[!<user>@<host>]` */
export const RPL_WELCOME = "001";
/** `<client> :Your host is <servername>, running version <version>` */
export const RPL_YOURHOST = "002";
/** `<client> :This server was created <datetime>` */
export const RPL_CREATED = "003";
/** `<client> <servername> <version> <available user modes> <available channel modes> [<channel modes with a parameter>]` */
export const RPL_MYINFO = "004";
/** `<client> <1-13 tokens> :are supported by this server` — send several when there are more than 13 tokens. */
export const RPL_ISUPPORT = "005";

// LUSERS (a server SHOULD send them after 005; the LUSERS command MUST get 251 and 255).

/** `<client> :There are <u> users and <i> invisible on <s> servers` */
export const RPL_LUSERCLIENT = "251";
/** `<client> <ops> :operator(s) online` */
export const RPL_LUSEROP = "252";
/** `<client> <connections> :unknown connection(s)` — connections not yet registered. */
export const RPL_LUSERUNKNOWN = "253";
/** `<client> <channels> :channels formed` */
export const RPL_LUSERCHANNELS = "254";
/** `<client> :I have <c> clients and <s> servers` */
export const RPL_LUSERME = "255";
/** `<client> [<u> <m>] :Current local users <u>, max <m>` */
export const RPL_LOCALUSERS = "265";
/** `<client> [<u> <m>] :Current global users <u>, max <m>` */
export const RPL_GLOBALUSERS = "266";

// Modes, away, queries.

/** `<client> <user modes>` — reply to `MODE <own nick>`, e.g. `+` or `+o`. */
export const RPL_UMODEIS = "221";
/** `<client> <nick> :<message>` — the target of a PRIVMSG to a nick (not a channel) is away; also in WHOIS. */
export const RPL_AWAY = "301";
/** `<client> :[<reply>{ <reply>}]` — USERHOST: `nick[*]=(+|-)user@host` each, `-` when away. */
export const RPL_USERHOST = "302";
/** `<client> :[<nick>{ <nick>}]` — ISON: those of the nicks asked about who are online. */
export const RPL_ISON = "303";
/** `<client> :You are no longer marked as being away` — reply to `AWAY` with no text. */
export const RPL_UNAWAY = "305";
/** `<client> :You have been marked as being away` — reply to `AWAY :text`. */
export const RPL_NOWAWAY = "306";
/** `<client> <nick> <username> <host> * :<realname>` — first WHOIS line; `<host>` must not start with `:`. */
export const RPL_WHOISUSER = "311";
/** `<client> <nick> <server> :<server info>` */
export const RPL_WHOISSERVER = "312";
/** `<client> <nick> :is an IRC operator` — WHOIS of a server operator. */
export const RPL_WHOISOPERATOR = "313";
/** `<client> <nick> <username> <host> * :<realname>` — WHOWAS, one per time the nick was given up. */
export const RPL_WHOWASUSER = "314";
/** `<client> <mask> :End of WHO list` — `<mask>` exactly as the client sent it (may be casefolded). */
export const RPL_ENDOFWHO = "315";
/** `<client> <nick> <secs> <signon> :seconds idle, signon time` — `<signon>` is a unix timestamp. */
export const RPL_WHOISIDLE = "317";
/** `<client> <nick> :End of /WHOIS list` — `<nick>` exactly as the client sent it; always sent, even after 401. */
export const RPL_ENDOFWHOIS = "318";
/** `<client> <nick> :[prefix]<channel>{ [prefix]<channel>}` — may repeat when the list is long. */
export const RPL_WHOISCHANNELS = "319";
/** `<client> <nick> <account> :is logged in as` — WHOIS of a member who proved an account. */
export const RPL_WHOISACCOUNT = "330";
/** `<client> <nick> :is connected on N devices` — WHOIS of one's own nick, or by an operator. */
export const RPL_WHOISSPECIAL = "320";
/** `<client> Channel :Users  Name` — optional start of a LIST reply; clients must not rely on it. */
export const RPL_LISTSTART = "321";
/** `<client> <channel> <client count> :<topic>` */
export const RPL_LIST = "322";
/** `<client> :End of /LIST` */
export const RPL_LISTEND = "323";
/** `<client> <channel> <modestring> <mode arguments>...` — reply to `MODE #chan`, e.g. `+nt`. */
export const RPL_CHANNELMODEIS = "324";
/** `<client> <channel> <creationtime>` — optional, after 324; a unix timestamp. */
export const RPL_CREATIONTIME = "329";
/** `<client> <channel> :No topic is set` — reply to `TOPIC #chan`; on JOIN nothing is sent instead. */
export const RPL_NOTOPIC = "331";
/** `<client> <channel> :<topic>` */
export const RPL_TOPIC = "332";
/** `<client> <channel> <nick> <setat>` — who set the topic and when (unix timestamp); after 332. */
export const RPL_TOPICWHOTIME = "333";
/** `<client> <nick> <channel>` — reply to a successful INVITE. */
export const RPL_INVITING = "341";
/** `<client> <channel>` — one room the client was invited to (a bare `INVITE`). */
export const RPL_INVITELIST = "336";
/** `<client> :End of /INVITE list` */
export const RPL_ENDOFINVITELIST = "337";
/**
 * `<client> <channel> <username> <host> <server> <nick> <flags> :<hopcount> <realname>` —
 * `<flags>`: `H` (here) or `G` (gone/away), then `*` for a server operator, then `@` for a channel operator.
 */
export const RPL_WHOREPLY = "352";
/** `<client> [token] [channel] [user] [ip] [host] [server] [nick] [flags] [hopcount] [idle] [account] [oplevel] [:realname]` — WHOX (IRCv3), the fields asked for in this order. */
export const RPL_WHOSPCRPL = "354";
/** `<client> <symbol> <channel> :[prefix]<nick>{ [prefix]<nick>}` — `<symbol>` is `=` (public); repeat for long lists. */
export const RPL_NAMREPLY = "353";
/** `<client> <channel> :End of /NAMES list` — exactly one, after the 353s (alone for an unknown channel). */
export const RPL_ENDOFNAMES = "366";
/** `<client> <nick> :End of WHOWAS` — after a WHOWAS's replies, or its 406. */
export const RPL_ENDOFWHOWAS = "369";
/** `<client> :<string>` — one line of INFO. */
export const RPL_INFO = "371";
/** `<client> :End of INFO list` */
export const RPL_ENDOFINFO = "374";
/** `<client> <channel> <mask> [<who> <set-ts>]` — a ban-list entry (`MODE #chan b`). */
export const RPL_BANLIST = "367";
/** `<client> <channel> :End of channel ban list` — reply to `MODE #chan b` (irssi asks on join). */
export const RPL_ENDOFBANLIST = "368";
/** `<client> :<line of the motd>` — conventionally `- ` then the line. */
export const RPL_MOTD = "372";
/** `<client> :- <server> Message of the day - ` */
export const RPL_MOTDSTART = "375";
/** `<client> :End of /MOTD command.` */
export const RPL_ENDOFMOTD = "376";
/** `<client> :You are now an IRC operator` — after a successful operator login (§10 `/oper`). */
export const RPL_YOUREOPER = "381";
/** `<client> <server> :<string showing server's local time>` — reply to TIME. */
export const RPL_TIME = "391";

// Errors.

/** `<client> <command>{ <subcommand>} :<info>` — a command failed for a reason no other numeric says. */
export const ERR_UNKNOWNERROR = "400";
/** `<client> <nickname> :No such nick/channel` */
export const ERR_NOSUCHNICK = "401";
/** `<client> <server name> :No such server` — e.g. `MOTD other.server`, `WHOIS other.server nick`. */
export const ERR_NOSUCHSERVER = "402";
/** `<client> <channel> :No such channel` — also for a channel name parley does not accept. */
export const ERR_NOSUCHCHANNEL = "403";
/** `<client> <channel> :Cannot send to channel` — e.g. `+n` and not joined, or muted. */
export const ERR_CANNOTSENDTOCHAN = "404";
/** `<client> <channel> :You have joined too many channels` */
export const ERR_TOOMANYCHANNELS = "405";
/** `<client> <nickname> :There was no such nickname` — WHOWAS of a nick nobody gave up lately. */
export const ERR_WASNOSUCHNICK = "406";
/** `<client> <target> :Too many targets` — a PRIVMSG to more targets than TARGMAX allows. */
export const ERR_TOOMANYTARGETS = "407";
/** `<client> :No origin specified` — PING or PONG without a token. */
export const ERR_NOORIGIN = "409";
/** `<client> <subcommand> :Invalid CAP command` — an unknown `CAP` subcommand (capability negotiation spec). */
export const ERR_INVALIDCAPCMD = "410";
/** `<client> :No recipient given (<command>)` */
export const ERR_NORECIPIENT = "411";
/** `<client> :No text to send` */
export const ERR_NOTEXTTOSEND = "412";
/** `<client> :Input line was too long` — more than 512 bytes, or more than 4096 bytes of tags; connection kept. */
export const ERR_INPUTTOOLONG = "417";
/** `<client> <command> :Unknown command` — to a registered client (before registration: 451). */
export const ERR_UNKNOWNCOMMAND = "421";
/** `<client> :MOTD File is missing` — sent in place of 375/372/376 when there is no MOTD. */
export const ERR_NOMOTD = "422";
/** `<client> :No nickname given` */
export const ERR_NONICKNAMEGIVEN = "431";
/** `<client> <nick> :Erroneus nickname` (sic) */
export const ERR_ERRONEUSNICKNAME = "432";
/** `<client> <nick> :Nickname is already in use` — `<client>` is `*` during registration. */
export const ERR_NICKNAMEINUSE = "433";
/** `<client> <nick> <channel> :They aren't on that channel` */
export const ERR_USERNOTINCHANNEL = "441";
/** `<client> <channel> :You're not on that channel` */
export const ERR_NOTONCHANNEL = "442";
/** `<client> <nick> <channel> :is already on channel` — an INVITE of a member. */
export const ERR_USERONCHANNEL = "443";
/** `<client> :You have not registered` — any command but CAP/NICK/USER/PASS/PING/PONG/QUIT before registration. */
export const ERR_NOTREGISTERED = "451";
/** `<client> <command> :Not enough parameters` */
export const ERR_NEEDMOREPARAMS = "461";
/** `<client> :You may not reregister` — USER or PASS after registration. */
export const ERR_ALREADYREGISTERED = "462";
/** `<client> :Password incorrect` — PASS that does not identify the nick (§10); may be followed by ERROR. */
export const ERR_PASSWDMISMATCH = "464";
/** `<client> :You are banned from this server.` — parley refuses bans at accept with ERROR instead. */
export const ERR_YOUREBANNEDCREEP = "465";
/** `<client> <channel> :Cannot join channel (+l)` */
export const ERR_CHANNELISFULL = "471";
/** `<client> <modechar> :is unknown mode char to me` — a channel mode parley does not have. */
export const ERR_UNKNOWNMODE = "472";
/** `<client> <channel> :Cannot join channel (+i)` */
export const ERR_INVITEONLYCHAN = "473";
/** `<client> <channel> :Cannot join channel (+b)` */
export const ERR_BANNEDFROMCHAN = "474";
/** `<client> <channel> :Cannot join channel (+k)` */
export const ERR_BADCHANNELKEY = "475";
/** `<client> <channel> :Cannot join channel (+r)` — the channel (here: the server) wants an account. */
export const ERR_NEEDREGGEDNICK = "477";
/** `<client> :Permission Denied- You're not an IRC operator` */
export const ERR_NOPRIVILEGES = "481";
/** `<client> <channel> :You're not channel operator` — e.g. TOPIC or MODE change by a non-operator. */
export const ERR_CHANOPRIVSNEEDED = "482";
/** `<client> <subject> :No help available on this topic` — HELP about something unknown. */
export const ERR_HELPNOTFOUND = "524";
/** `<client> :Unknown MODE flag` — a user mode parley does not have. */
export const ERR_UMODEUNKNOWNFLAG = "501";
/** `<client> :Cant change mode for other users` — `MODE othernick`. */
export const ERR_USERSDONTMATCH = "502";
/** `<client> <target> <mode char> <parameter> :<description>` — a mode's parameter that cannot be used (a key, a limit, a mask). */
export const ERR_INVALIDMODEPARAM = "696";

// HELP (modern: 704 once, 705 for each further line, 706 last; all with the subject).

/** `<client> <subject> :<first line of help text>` */
export const RPL_HELPSTART = "704";
/** `<client> <subject> :<line of help text>` */
export const RPL_HELPTXT = "705";
/** `<client> <subject> :<last line of help text>` */
export const RPL_ENDOFHELP = "706";

// Not used by the first version: listed so that nobody reuses the codes for something else.

/** `<client> :STARTTLS successful, proceed with TLS handshake` — parley offers TLS on its own port instead of STARTTLS. */
export const RPL_STARTTLS = "670";
/** `<client> :STARTTLS failed (Wrong moon phase)` */
export const ERR_STARTTLS = "691";

// SASL (sasl.ts) and MONITOR (monitor.ts).

/** `<client> <nick>!<user>@<host> <account> :You are now logged in as <username>` — SASL, REGISTER. */
export const RPL_LOGGEDIN = "900";
/** `<client> :SASL authentication successful` */
export const RPL_SASLSUCCESS = "903";
/** `<client> :SASL authentication failed` */
export const ERR_SASLFAIL = "904";
/** `<client> :SASL message too long` — one AUTHENTICATE parameter over 400 bytes. */
export const ERR_SASLTOOLONG = "905";
/** `<client> :SASL authentication aborted` — `AUTHENTICATE *`, or registration ended it. */
export const ERR_SASLABORTED = "906";
/** `<client> <mechanisms> :are available SASL mechanisms` */
export const RPL_SASLMECHS = "908";
/** `<client> :target[!user@host]{,target[!user@host]}` — MONITOR: these nicks are online. */
export const RPL_MONONLINE = "730";
/** `<client> :target{,target}` — MONITOR: these nicks are offline. */
export const RPL_MONOFFLINE = "731";
/** `<client> :target{,target}` — MONITOR L: the list, over as many lines as it takes. */
export const RPL_MONLIST = "732";
/** `<client> :End of MONITOR list` */
export const RPL_ENDOFMONLIST = "733";
/** `<client> <limit> <targets> :Monitor list is full.` */
export const ERR_MONLISTFULL = "734";
