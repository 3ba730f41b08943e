#!/usr/bin/env bash
# Provision an Asterisk 22 + PostgreSQL box for asterisk-rec. Idempotent: run it as often as you like.
#
#   provision.sh          a Debian testing (forky) machine with systemd: the Vagrant box
#   provision.sh --lab    inside the lab's chroot: no systemd, nothing started or left running;
#                         the lab starts Asterisk and PostgreSQL itself and the service runs on the host
#
# Settings (environment): ASTERISK_REC_SRC (the project checkout, default: this script's parent),
# ASTERISK_REC_PG_PORT (5432), ASTERISK_REC_HTTP_PORT (8088), ASTERISK_REC_AMI_PORT (5038),
# ASTERISK_REC_SIP_PORT (5060), ASTERISK_REC_SIP_BIND (127.0.0.1).
set -euo pipefail

LAB=no
[ "${1:-}" = "--lab" ] && LAB=yes

SRC=${ASTERISK_REC_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
PG_PORT=${ASTERISK_REC_PG_PORT:-5432}
HTTP_PORT=${ASTERISK_REC_HTTP_PORT:-8088}
AMI_PORT=${ASTERISK_REC_AMI_PORT:-5038}
SIP_PORT=${ASTERISK_REC_SIP_PORT:-5060}
# SIP listens on loopback in the lab; a Vagrant box listens on all its addresses for the forwarded port.
SIP_BIND=${ASTERISK_REC_SIP_BIND:-127.0.0.1}
ENV_DIR=/etc/asterisk-rec
ENV_FILE=$ENV_DIR/asterisk-rec.env
DB_NAME=asterisk_rec
DB_USER=asterisk_rec

log() { echo "provision: $*"; }

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q --no-install-recommends)
# The lab's mirror may be a frozen snapshot whose Release files have expired; a real box keeps the check.
[ "$LAB" = yes ] && APT_OPTS+=(-o Acquire::Check-Valid-Until=false)

install_packages() {
    local wanted=(asterisk asterisk-modules asterisk-core-sounds-en-wav postgresql ffmpeg sox)
    [ "$LAB" = no ] && wanted+=(python3 python3-venv python3-pip rsync)
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && { log "packages present"; return; }
    if [ "$LAB" = yes ]; then
        # No init system in a chroot: packages must not try to start their daemons.
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
    fi
    log "installing ${missing[*]}"
    apt-get "${APT_OPTS[@]}" update
    apt-get "${APT_OPTS[@]}" install "${missing[@]}"
}

random_secret() { tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true; }

# Credentials are generated once and kept; the service reads them from this file.
write_credentials() {
    install -d -m 0755 "$ENV_DIR"
    local ari_pw="" ami_pw="" db_pw=""
    if [ -f "$ENV_FILE" ]; then
        ari_pw=$(sed -n 's/^ASTERISK_REC_ARI_PASSWORD=//p' "$ENV_FILE")
        ami_pw=$(sed -n 's/^ASTERISK_REC_AMI_PASSWORD=//p' "$ENV_FILE")
        db_pw=$(sed -n 's/^ASTERISK_REC_DB_PASSWORD=//p' "$ENV_FILE")
    fi
    [ -n "$ari_pw" ] || ari_pw=$(random_secret)
    [ -n "$ami_pw" ] || ami_pw=$(random_secret)
    [ -n "$db_pw" ] || db_pw=$(random_secret)
    umask 077
    cat > "$ENV_FILE.new" <<EOF
# Written by asterisk-rec's provision.sh. Secrets: keep this file mode 0600.
ASTERISK_REC_ARI_URL=http://127.0.0.1:$HTTP_PORT/
ASTERISK_REC_ARI_USER=asterisk-rec
ASTERISK_REC_ARI_PASSWORD=$ari_pw
ASTERISK_REC_AMI_HOST=127.0.0.1
ASTERISK_REC_AMI_PORT=$AMI_PORT
ASTERISK_REC_AMI_USER=asterisk-rec
ASTERISK_REC_AMI_PASSWORD=$ami_pw
ASTERISK_REC_DB_HOST=127.0.0.1
ASTERISK_REC_DB_PORT=$PG_PORT
ASTERISK_REC_DB_NAME=$DB_NAME
ASTERISK_REC_DB_USER=$DB_USER
ASTERISK_REC_DB_PASSWORD=$db_pw
ASTERISK_REC_SIP_PORT=$SIP_PORT
ASTERISK_REC_CALLS_TRUNKS=lab-trunk,lab-trunk-b
ASTERISK_REC_CALLS_TRUSTED_TRUNKS=lab-trunk
ASTERISK_REC_CDR_CSV_PATH=/var/log/asterisk/cdr-custom/asterisk-rec.csv
ASTERISK_REC_ARCHIVE_SPOOL_DIR=/var/spool/asterisk/recording
EOF
    umask 022
    chmod 0600 "$ENV_FILE.new"
    mv "$ENV_FILE.new" "$ENV_FILE"
    ARI_PASSWORD=$ari_pw AMI_PASSWORD=$ami_pw DB_PASSWORD=$db_pw
}

# Write a file only when its content changes, so re-runs touch nothing.
put() {
    local path=$1 mode=${2:-0644} tmp
    tmp=$(mktemp)
    cat > "$tmp"
    if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
    else
        install -D -m "$mode" "$tmp" "$path"
        rm -f "$tmp"
        log "wrote $path"
    fi
}

configure_asterisk() {
    install -d -o asterisk -g asterisk /var/spool/asterisk/recording /var/run/asterisk /var/log/asterisk
    install -d -o asterisk -g asterisk /var/log/asterisk/cdr-csv /var/log/asterisk/cdr-custom \
        /var/spool/asterisk/recording/lab-plain

    # Everything loads but what this box has no use for, or what fails without its own configuration.
    put /etc/asterisk/modules.conf <<EOF
[modules]
autoload = yes
noload = pbx_ael.so
noload = pbx_lua.so
noload = pbx_dundi.so
noload = app_voicemail_odbc.so
noload = app_voicemail_imap.so
noload = chan_unistim.so
noload = chan_mgcp.so
noload = chan_skinny.so
noload = chan_iax2.so
noload = res_hep.so
noload = res_hep_pjsip.so
noload = res_hep_rtcp.so
noload = cdr_radius.so
noload = cdr_pgsql.so
noload = cdr_tds.so
noload = cdr_sqlite3_custom.so
noload = cel_radius.so
noload = cel_tds.so
noload = cel_custom.so
noload = cel_sqlite3_custom.so
noload = res_config_ldap.so
noload = res_phoneprov.so
noload = res_pjsip_phoneprov_provider.so
EOF
    put /etc/asterisk/http.conf <<EOF
[general]
enabled = yes
bindaddr = 127.0.0.1
bindport = $HTTP_PORT
EOF
    put /etc/asterisk/ari.conf 0640 <<EOF
[general]
enabled = yes
pretty = no

[asterisk-rec]
type = user
read_only = no
password_format = plain
password = $ARI_PASSWORD
EOF
    put /etc/asterisk/manager.conf 0640 <<EOF
[general]
enabled = yes
bindaddr = 127.0.0.1
port = $AMI_PORT
; Asterisk's own time on every event (the latency benches compare events).
timestampevents = yes

[asterisk-rec]
secret = $AMI_PASSWORD
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = system,call,cdr,dtmf,reporting,user,agent,command
write = system,call,originate,reporting,user,command
EOF
    # One-touch recording (automixmon) on *1, what the feature code is compared with (bench/); only
    # calls dialled with Dial's X option can use it.
    put /etc/asterisk/features.conf <<EOF
[general]
featuredigittimeout = 2000
; chan_pjsip answers a call to pickupexten (default *8) with Asterisk's own pickup before the dialplan
; sees it: the organisations' pickup codes must reach asterisk-rec, so none is Asterisk's.
pickupexten = *8*8*8*8*8*8*8*8

[featuremap]
automixmon => *1
EOF
    # Missed calls must leave a CDR too, and events must go out at once, not in batches.
    put /etc/asterisk/cdr.conf <<EOF
[general]
enable = yes
unanswered = yes
congestion = yes
batch = no

[csv]
usegmtime = yes
loguniqueid = yes
loguserfield = yes
accountlogs = no
EOF
    put /etc/asterisk/cdr_manager.conf <<EOF
[general]
enabled = yes

[mappings]
linkedid => LinkedID
sequence => Sequence
asterisk_rec_call => AsteriskRecCall
asterisk_rec_unrecorded => AsteriskRecUnrecorded
EOF
    # The same fields as the AMI Cdr events, to a file: asterisk-rec recovers from it the CDRs that went
    # out while no AMI client listened (asterisk_rec/cdr/records.py reads it).
    put /etc/asterisk/cdr_custom.conf <<'EOF'
[mappings]
asterisk-rec.csv => ${CSV_QUOTE(${CDR(accountcode)})},${CSV_QUOTE(${CDR(src)})},${CSV_QUOTE(${CDR(dst)})},${CSV_QUOTE(${CDR(dcontext)})},${CSV_QUOTE(${CDR(clid)})},${CSV_QUOTE(${CDR(channel)})},${CSV_QUOTE(${CDR(dstchannel)})},${CSV_QUOTE(${CDR(lastapp)})},${CSV_QUOTE(${CDR(lastdata)})},${CSV_QUOTE(${CDR(start)})},${CSV_QUOTE(${CDR(answer)})},${CSV_QUOTE(${CDR(end)})},${CSV_QUOTE(${CDR(duration)})},${CSV_QUOTE(${CDR(billsec)})},${CSV_QUOTE(${CDR(disposition)})},${CSV_QUOTE(${CDR(uniqueid)})},${CSV_QUOTE(${CDR(linkedid)})},${CSV_QUOTE(${CDR(sequence)})},${CSV_QUOTE(${CDR(asterisk_rec_call)})},${CSV_QUOTE(${CDR(asterisk_rec_unrecorded)})}
EOF
    put /etc/asterisk/pjsip.conf <<EOF
; SIP for the box's phones and trunk.
[transport-udp]
type = transport
protocol = udp
bind = $SIP_BIND:$SIP_PORT

; The lab's phones and trunk (vagrant/pjsip-lab.conf).
#include "asterisk-rec/pjsip-lab.conf"
EOF
    put /etc/asterisk/extensions.conf <<EOF
[general]
static = yes
writeprotect = yes

; The project's dialplan (dialplan/ in the repository).
#include "asterisk-rec/dialplan/*.conf"
EOF
    install -d /etc/asterisk/asterisk-rec/dialplan
    # The project's dialplan replaces what an earlier run installed, removed files included.
    rm -f /etc/asterisk/asterisk-rec/dialplan/*.conf
    cp "$SRC"/dialplan/*.conf /etc/asterisk/asterisk-rec/dialplan/
    install -m 0644 "$SRC/vagrant/pjsip-lab.conf" /etc/asterisk/asterisk-rec/pjsip-lab.conf
    chown -R root:asterisk /etc/asterisk
    chmod 0640 /etc/asterisk/ari.conf /etc/asterisk/manager.conf

    # Prompts: sounds/<language>/<name>.<format> -> Asterisk's sounds/<language>/asterisk-rec/.
    local lang_dir lang
    for lang_dir in "$SRC"/sounds/*/; do
        [ -d "$lang_dir" ] || continue
        lang=$(basename "$lang_dir")
        install -d "/usr/share/asterisk/sounds/$lang/asterisk-rec"
        find "$lang_dir" -maxdepth 1 -type f -exec install -m 0644 {} "/usr/share/asterisk/sounds/$lang/asterisk-rec/" \;
    done
}

pg_version() { find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -n | tail -n 1; }

configure_postgresql() {
    local ver started=no
    ver=$(pg_version)
    [ -n "$ver" ] || { pg_createcluster --start-conf=manual 18 main; ver=$(pg_version); }
    put "/etc/postgresql/$ver/main/conf.d/asterisk-rec.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
EOF
    if ! pg_ctlcluster "$ver" main status >/dev/null 2>&1; then
        if [ "$LAB" = yes ]; then
            pg_ctlcluster "$ver" main start
            started=yes
        else
            systemctl enable --now "postgresql@$ver-main"
        fi
    elif [ "$LAB" = no ]; then
        systemctl restart "postgresql@$ver-main"
    fi
    local psql=(runuser -u postgres -- psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -qtA)
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]; then
        "${psql[@]}" -c "CREATE ROLE $DB_USER LOGIN"
        log "created role $DB_USER"
    fi
    "${psql[@]}" -c "ALTER ROLE $DB_USER PASSWORD '$DB_PASSWORD'"
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
        "${psql[@]}" -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
        log "created database $DB_NAME"
    fi
    # The lab starts and stops PostgreSQL itself; leave it as found.
    [ "$started" = yes ] && pg_ctlcluster "$ver" main stop
    return 0
}

install_service() {
    id asterisk-rec >/dev/null 2>&1 || useradd --system --home /var/lib/asterisk-rec --create-home asterisk-rec
    install -d -o asterisk-rec -g asterisk-rec /var/lib/asterisk-rec /var/lib/asterisk-rec/archive \
        /var/lib/asterisk-rec/exports
    # To read Asterisk's CDR file (recovering CDRs missed over AMI).
    usermod -a -G asterisk asterisk-rec
    [ -d /opt/asterisk-rec/venv ] || python3 -m venv /opt/asterisk-rec/venv
    /opt/asterisk-rec/venv/bin/pip install -q --upgrade "$SRC"
    [ -f "$ENV_DIR/asterisk-rec.toml" ] ||
        install -m 0644 "$SRC/asterisk_rec/asterisk-rec.example.toml" "$ENV_DIR/asterisk-rec.toml"
    put /etc/systemd/system/asterisk-rec.service <<EOF
[Unit]
Description=asterisk-rec: call recording for Asterisk
After=network.target asterisk.service postgresql.service
Wants=asterisk.service postgresql.service

[Service]
User=asterisk-rec
EnvironmentFile=$ENV_FILE
ExecStart=/opt/asterisk-rec/venv/bin/asterisk-rec --config $ENV_DIR/asterisk-rec.toml serve
# The service says READY=1 once it runs, and WATCHDOG=1 from its event loop every 15 s: a loop stalled
# for 30 s is restarted. Load balancers ask GET /readyz (ARI, AMI, PostgreSQL, the archive), monitors
# GET /healthz.
Type=notify
NotifyAccess=main
WatchdogSec=30
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
EOF
    # The purge also runs daily from a timer: recordings past their period go even if the service is
    # restarted often (the service purges too; a second run finds nothing left to do).
    put /etc/systemd/system/asterisk-rec-purge.service <<EOF
[Unit]
Description=asterisk-rec: delete recordings past their retention period
After=postgresql.service

[Service]
Type=oneshot
User=asterisk-rec
EnvironmentFile=$ENV_FILE
ExecStart=/opt/asterisk-rec/venv/bin/asterisk-rec --config $ENV_DIR/asterisk-rec.toml purge
EOF
    put /etc/systemd/system/asterisk-rec-purge.timer <<EOF
[Unit]
Description=asterisk-rec: the daily purge

[Timer]
OnCalendar=*-*-* 03:30:00
RandomizedDelaySec=30min
Persistent=true

[Install]
WantedBy=timers.target
EOF
    systemctl daemon-reload
    systemctl enable --now asterisk-rec-purge.timer
    systemctl enable asterisk.service asterisk-rec.service
    systemctl restart asterisk.service
    systemctl restart asterisk-rec.service
}

install_packages
write_credentials
configure_asterisk
configure_postgresql
[ "$LAB" = no ] && install_service
log "done"
